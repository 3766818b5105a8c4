"""The quiz form. Field names match the stored document's fields."""

from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Email, Length, ValidationError

# C0 and C1 control characters and DEL, less the white space a person types.
CONTROL_CHARACTERS = {chr(code) for code in (*range(32), *range(127, 160))} - {
    "\t",
    "\n",
    "\r",
}


def normalise_newlines(value):
    """Browsers send a textarea's line breaks as CRLF; count each as one."""
    if isinstance(value, str):
        return value.replace("\r\n", "\n").replace("\r", "\n")
    return value


def strip_text(value):
    return value.strip() if isinstance(value, str) else value


def printable_text(form, field):
    if any(character in CONTROL_CHARACTERS for character in field.data or ""):
        raise ValidationError("Please remove the control characters from the text.")


class QuizForm(FlaskForm):
    """The essay question and the taker's email, plus the spam traps."""

    essay_question = TextAreaField(
        "Your answer",
        filters=[normalise_newlines],
        validators=[DataRequired(message="Please write an answer."), printable_text],
    )
    email_addr = EmailField(
        "Your email",
        filters=[strip_text],
        validators=[
            DataRequired(message="Please enter your email address."),
            Length(max=254, message="That email address is too long."),
            Email(
                message="Please enter a valid email address.", granular_message=False
            ),
        ],
    )
    # A field people never see: bots that fill every input give themselves away.
    website = StringField("Leave this empty")
    form_token = HiddenField()
    submit = SubmitField("Submit")

    def __init__(self, *args, essay_max_chars=2048, **kwargs):
        super().__init__(*args, **kwargs)
        self.essay_max_chars = essay_max_chars
        self.essay_question.render_kw = {"data-max-chars": essay_max_chars}

    def validate_essay_question(self, field):
        # len() counts code points, the characters a person sees and types.
        if len(field.data or "") > self.essay_max_chars:
            raise ValidationError(
                f"Please keep your answer to {self.essay_max_chars:,} characters "
                f"(it has {len(field.data):,})."
            )

    @property
    def field_names(self):
        """The names a submission may carry."""
        return {field.name for field in self}
