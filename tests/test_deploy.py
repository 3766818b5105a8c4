"""Checks of the Elastic Beanstalk and AWS deploy files against config.py.

The IAM documents and the queue template are written for the default queue
and index names; these tests fail when either side changes alone.
"""

import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import config
from survey.store import template_name

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
EBEXTENSIONS = sorted((ROOT / ".ebextensions").glob("*.config"))
PROCFILE = ROOT / "Procfile"
IAM_DIR = ROOT / "deploy" / "iam"
WEB_POLICY = IAM_DIR / "web-tier-policy.json"
WORKER_POLICY = IAM_DIR / "worker-tier-policy.json"
TRUST_POLICY = IAM_DIR / "instance-trust-policy.json"
OPENSEARCH_POLICY = ROOT / "deploy" / "opensearch-access-policy.json"
POLICIES = sorted(IAM_DIR.glob("*.json")) + [OPENSEARCH_POLICY]
QUEUE_TEMPLATE = ROOT / "deploy" / "sqs-queues.yaml"

ENV_NAMESPACE = "aws:elasticbeanstalk:application:environment"
EBEXTENSION_KEYS = {
    "option_settings",
    "packages",
    "sources",
    "files",
    "users",
    "groups",
    "commands",
    "container_commands",
    "services",
    "Resources",
    "Outputs",
}
# Read by the Procfile or by pip, not by config.py.
PROCESS_SETTINGS = {
    "WEB_CONCURRENCY",
    "WEB_THREADS",
    "CELERY_CONCURRENCY",
    "SURVEY_RUN_WORKER",
    "PYCURL_SSL_LIBRARY",
}
AWS_CREDENTIALS = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}
SECRET_LOOKING = re.compile(r"SECRET|PASSWORD|TOKEN|ACCESS_KEY|CREDENTIAL")
PROCFILE_LINE = re.compile(r"^[A-Za-z0-9_-]+:\s*[^\s].*$")

SQS_ARN = "arn:aws:sqs:REGION:ACCOUNT_ID:{}"
DOMAIN_ARN = "arn:aws:es:REGION:ACCOUNT_ID:domain/DOMAIN_NAME/{}"
ROLE_ARN = "arn:aws:iam::ACCOUNT_ID:role/{}"
ROLE_POLICIES = {"survey-web": WEB_POLICY, "survey-worker": WORKER_POLICY}


@pytest.fixture(scope="module")
def defaults():
    return config.load_config({})


@pytest.fixture(scope="module")
def option_settings():
    """Every option of every .ebextensions file, by namespace then name."""
    merged = {}
    for path in EBEXTENSIONS:
        settings = yaml.safe_load(path.read_text()).get("option_settings", {})
        for namespace, name, value in iter_options(settings):
            merged.setdefault(namespace, {})[name] = value

    return merged


@pytest.fixture(scope="module")
def env_properties(option_settings):
    return {
        name: "" if value is None else str(value)
        for name, value in option_settings.get(ENV_NAMESPACE, {}).items()
    }


def iter_options(settings):
    """Yield (namespace, name, value) from the shorthand or the list syntax."""
    if isinstance(settings, dict):
        for namespace, options in settings.items():
            for name, value in options.items():
                yield namespace, name, value

        return

    for option in settings:
        namespace = option.get("namespace", ENV_NAMESPACE)
        yield namespace, option["option_name"], option.get("value")


def read_procfile():
    processes = {}
    for line in PROCFILE.read_text().splitlines():
        if line.strip():
            name, command = line.split(":", 1)
            processes[name] = command.strip()

    return processes


def run_process(name, environ, tmp_path):
    """Run a Procfile command under sh with stand-ins that print their argv."""
    for program in ("gunicorn", "celery", "sleep"):
        stand_in = tmp_path / program
        stand_in.write_text('#!/bin/sh\nprintf \'%s\\n\' "${0##*/}" "$@"\n')
        stand_in.chmod(0o755)

    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", **environ}
    result = subprocess.run(
        ["sh", "-c", read_procfile()[name]],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return result.stdout.splitlines()


def option_value(argv, flag):
    return argv[argv.index(flag) + 1]


def reject_duplicate_keys(pairs):
    keys = [key for key, _ in pairs]
    duplicates = {key for key in keys if keys.count(key) > 1}
    assert not duplicates, f"duplicate keys {sorted(duplicates)}"
    return dict(pairs)


def load_policy(path):
    return json.loads(path.read_text(), object_pairs_hook=reject_duplicate_keys)


def as_list(value):
    return value if isinstance(value, list) else [value]


def statements(policy):
    return as_list(policy["Statement"])


def actions(policy, service=None):
    found = set()
    for statement in statements(policy):
        found.update(as_list(statement.get("Action", [])))

    if service:
        found = {action for action in found if action.startswith(f"{service}:")}

    return found


def resources(statement):
    return as_list(statement.get("Resource", []))


def queue_arns(defaults):
    return {
        SQS_ARN.format(defaults["SQS_QUEUE_NAME"]),
        SQS_ARN.format(defaults["SQS_DEAD_LETTER_QUEUE_NAME"]),
    }


def is_index_path(resource, defaults):
    index_arn = DOMAIN_ARN.format(defaults["OPENSEARCH_INDEX"])
    return resource == index_arn or resource.startswith(index_arn + "/")


def paths_beside_the_index(defaults):
    """Domain paths outside the index that the web tier calls, and how."""
    template = template_name(defaults["OPENSEARCH_INDEX"])
    return {
        # The connection check of /readyz and `flask check-config`.
        DOMAIN_ARN.format(""): {"es:ESHttpGet"},
        # `flask init-index` installs the index template.
        DOMAIN_ARN.format(f"_index_template/{template}"): {"es:ESHttpPut"},
        # Exports read through a scroll and clear it when done.
        DOMAIN_ARN.format("_search/scroll"): {"es:ESHttpPost", "es:ESHttpDelete"},
    }


def reaches_beside_the_index(path, defaults):
    return {
        resource
        for statement in statements(load_policy(path))
        for resource in resources(statement)
        if resource in paths_beside_the_index(defaults)
    }


class TemplateLoader(yaml.SafeLoader):
    """SafeLoader that reads CloudFormation short tags as their long form."""


def construct_intrinsic(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)

    if suffix == "Ref":
        return {"Ref": value}

    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)

    return {f"Fn::{suffix}": value}


TemplateLoader.add_multi_constructor("!", construct_intrinsic)


@pytest.fixture(scope="module")
def template():
    return yaml.load(QUEUE_TEMPLATE.read_text(), Loader=TemplateLoader)


def resolve(template, value):
    """A parameter's default for a Ref to it, else the value unchanged."""
    if isinstance(value, dict) and set(value) == {"Ref"}:
        parameter = template.get("Parameters", {}).get(value["Ref"])
        if parameter is not None:
            return parameter["Default"]

    return value


def queue_by_name(template, name):
    """Logical id and properties of the queue that the template names `name`."""
    for logical_id, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        named = resolve(template, properties.get("QueueName"))
        if resource["Type"] == "AWS::SQS::Queue" and named == name:
            return logical_id, properties

    pytest.fail(f"no queue named {name} in {QUEUE_TEMPLATE.name}")


def test_ebextensions_exist():
    assert EBEXTENSIONS


@pytest.mark.parametrize("path", EBEXTENSIONS, ids=lambda path: path.name)
def test_ebextension_is_a_yaml_mapping_of_known_sections(path):
    document = yaml.safe_load(path.read_text())

    assert isinstance(document, dict)
    assert set(document) <= EBEXTENSION_KEYS


def test_wsgi_path_is_the_application_object(option_settings):
    python = option_settings["aws:elasticbeanstalk:container:python"]

    assert python["WSGIPath"] == "application:application"


def test_health_checks_ask_healthz(option_settings):
    application = option_settings["aws:elasticbeanstalk:application"]
    process = option_settings["aws:elasticbeanstalk:environment:process:default"]

    assert application["Application Healthcheck URL"] == "/healthz"
    assert process["HealthCheckPath"] == "/healthz"


def test_nginx_is_the_proxy(option_settings):
    proxy = option_settings["aws:elasticbeanstalk:environment:proxy"]

    assert proxy["ProxyServer"] == "nginx"


def test_trusted_proxies_is_a_positive_integer(env_properties):
    value = env_properties["SURVEY_TRUSTED_PROXIES"]

    assert re.fullmatch(r"\d+", value), value
    assert int(value) >= 1


def test_no_secret_carries_a_value(env_properties):
    secrets = {setting.name for setting in config.SETTINGS if setting.secret}
    secrets |= AWS_CREDENTIALS
    for name, value in env_properties.items():
        if name in secrets or SECRET_LOOKING.search(name):
            assert value == "", f"{name} must be set with eb setenv"


def test_environment_names_are_ones_the_app_reads(env_properties):
    known = set(config.SETTINGS_BY_NAME) | PROCESS_SETTINGS

    assert set(env_properties) <= known


def test_environment_values_parse_and_keep_default_names(env_properties, defaults):
    loaded = config.load_config(env_properties)

    for name in (
        "OPENSEARCH_INDEX",
        "SQS_QUEUE_NAME",
        "SQS_DEAD_LETTER_QUEUE_NAME",
        "SQS_VISIBILITY_TIMEOUT",
    ):
        assert loaded[name] == defaults[name], name


def test_packages_can_build_pycurl():
    packages = {}
    for path in EBEXTENSIONS:
        document = yaml.safe_load(path.read_text())
        packages.update(document.get("packages", {}).get("yum", {}))

    assert {"gcc", "libcurl-devel", "openssl-devel"} <= set(packages)


def test_procfile_lines_follow_eb_syntax():
    lines = [line for line in PROCFILE.read_text().splitlines() if line.strip()]

    assert all(PROCFILE_LINE.match(line) for line in lines)
    assert lines[0].startswith("web:")
    assert list(read_procfile()) == ["web", "worker"]


def test_web_runs_gunicorn_on_loopback():
    web = read_procfile()["web"]

    assert "gunicorn" in web
    assert "--bind 127.0.0.1:" in web
    assert web.split()[-1] == "application:application"


def test_worker_runs_celery_tasks():
    assert "celery -A tasks worker" in read_procfile()["worker"]


@pytest.mark.parametrize(
    ("process", "environ", "program", "expected"),
    [
        (
            "web",
            {},
            "gunicorn",
            {"--bind": "127.0.0.1:8000", "--workers": "2", "--threads": "4"},
        ),
        (
            "web",
            {"WEB_CONCURRENCY": "5", "WEB_THREADS": "8", "LOG_LEVEL": "DEBUG"},
            "gunicorn",
            {"--workers": "5", "--threads": "8", "--log-level": "DEBUG"},
        ),
        (
            "worker",
            {},
            "celery",
            {"-A": "tasks", "--pool": "threads", "--concurrency": "16"},
        ),
        (
            "worker",
            {"CELERY_CONCURRENCY": "4", "LOG_LEVEL": "WARNING"},
            "celery",
            {"--concurrency": "4", "--loglevel": "WARNING"},
        ),
        ("worker", {"SURVEY_RUN_WORKER": "false"}, "sleep", {}),
    ],
)
def test_procfile_commands_read_the_environment(
    process, environ, program, expected, tmp_path
):
    argv = run_process(process, environ, tmp_path)

    assert argv[0] == program
    for flag, value in expected.items():
        assert option_value(argv, flag) == value


@pytest.mark.parametrize(
    ("module", "target"),
    [("application", "application.application"), ("tasks", "tasks.celery")],
)
def test_procfile_targets_import(module, target):
    code = f"import {module}; {target}"
    env = {**os.environ, "SECRET_KEY": "dummy-secret-for-import"}
    logger.info("importing %s in a subprocess", target)

    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("path", POLICIES, ids=lambda path: path.name)
def test_policy_is_strict_json_of_the_current_version(path):
    policy = load_policy(path)

    assert policy["Version"] == "2012-10-17"
    assert statements(policy)
    for statement in statements(policy):
        assert statement["Effect"] in ("Allow", "Deny")
        assert not {"NotAction", "NotResource", "NotPrincipal"} & set(statement)


@pytest.mark.parametrize("path", POLICIES, ids=lambda path: path.name)
def test_policy_names_actions_and_resources_exactly(path):
    for statement in statements(load_policy(path)):
        assert not any("*" in action for action in as_list(statement["Action"]))
        assert "*" not in resources(statement)


@pytest.mark.parametrize("path", POLICIES, ids=lambda path: path.name)
def test_policy_resources_are_the_queues_or_paths_the_app_calls(path, defaults):
    for statement in statements(load_policy(path)):
        for resource in resources(statement):
            if resource.startswith("arn:aws:sqs:"):
                assert resource in queue_arns(defaults)
            elif resource in paths_beside_the_index(defaults):
                allowed = paths_beside_the_index(defaults)[resource]
                assert set(as_list(statement["Action"])) <= allowed, resource
            else:
                assert is_index_path(resource, defaults), resource


@pytest.mark.parametrize("path", POLICIES, ids=lambda path: path.name)
def test_policy_actions_match_their_resources(path):
    for statement in statements(load_policy(path)):
        services = {action.split(":")[0] for action in as_list(statement["Action"])}
        for resource in resources(statement):
            assert services == {resource.split(":")[2]}, statement.get("Sid")


@pytest.mark.parametrize("path", POLICIES, ids=lambda path: path.name)
def test_deletes_only_clear_scrolls(path):
    scroll = DOMAIN_ARN.format("_search/scroll")
    for statement in statements(load_policy(path)):
        if "es:ESHttpDelete" in as_list(statement["Action"]):
            assert resources(statement) == [scroll]


def test_web_tier_enqueues_but_never_consumes():
    web = load_policy(WEB_POLICY)

    assert "sqs:SendMessage" in actions(web)
    assert not {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:PurgeQueue",
    } & actions(web)


def test_web_tier_only_reads_the_dead_letter_queue(defaults):
    task_queue = SQS_ARN.format(defaults["SQS_QUEUE_NAME"])
    for statement in statements(load_policy(WEB_POLICY)):
        sqs_actions = actions({"Statement": statement}, "sqs")
        if sqs_actions - {"sqs:GetQueueAttributes"}:
            assert resources(statement) == [task_queue]


def test_worker_tier_consumes_and_never_deletes_answers():
    worker = load_policy(WORKER_POLICY)

    assert {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueAttributes",
        "sqs:SendMessage",
    } <= actions(worker)
    assert "es:ESHttpDelete" not in actions(worker)
    assert "es:ESHttpPost" in actions(worker)


def test_worker_tier_can_dead_letter(defaults):
    dead_letter = SQS_ARN.format(defaults["SQS_DEAD_LETTER_QUEUE_NAME"])
    sends_there = [
        statement
        for statement in statements(load_policy(WORKER_POLICY))
        if dead_letter in resources(statement)
        and "sqs:SendMessage" in as_list(statement["Action"])
    ]

    assert sends_there


def test_only_the_web_tier_reaches_beside_the_index(defaults):
    beside = set(paths_beside_the_index(defaults))

    assert reaches_beside_the_index(WEB_POLICY, defaults) == beside
    assert not reaches_beside_the_index(WORKER_POLICY, defaults)


def test_trust_policy_lets_only_ec2_assume_the_role():
    (statement,) = statements(load_policy(TRUST_POLICY))

    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Service": ["ec2.amazonaws.com"]}
    assert statement["Action"] == "sts:AssumeRole"


def test_opensearch_policy_grants_each_role_its_own_actions():
    granted = {}
    for statement in statements(load_policy(OPENSEARCH_POLICY)):
        for principal in as_list(statement["Principal"]["AWS"]):
            granted.setdefault(principal, set()).update(as_list(statement["Action"]))

    assert set(granted) == {ROLE_ARN.format(role) for role in ROLE_POLICIES}
    for role, policy_path in ROLE_POLICIES.items():
        tier_actions = actions(load_policy(policy_path), "es")
        assert granted[ROLE_ARN.format(role)] == tier_actions, role


def test_queue_names_match_config(template, defaults):
    queue_by_name(template, defaults["SQS_QUEUE_NAME"])
    queue_by_name(template, defaults["SQS_DEAD_LETTER_QUEUE_NAME"])


def test_visibility_timeout_matches_config_and_outlasts_retries(template, defaults):
    _, queue = queue_by_name(template, defaults["SQS_QUEUE_NAME"])

    assert queue["VisibilityTimeout"] == defaults["SQS_VISIBILITY_TIMEOUT"]
    assert queue["VisibilityTimeout"] > defaults["GEO_RETRY_BACKOFF_MAX"]


def test_long_poll_matches_the_worker(template, defaults):
    _, queue = queue_by_name(template, defaults["SQS_QUEUE_NAME"])

    assert queue["ReceiveMessageWaitTimeSeconds"] == defaults["SQS_WAIT_TIME_SECONDS"]


def test_redrive_targets_the_dead_letter_queue(template, defaults):
    _, queue = queue_by_name(template, defaults["SQS_QUEUE_NAME"])
    dead_letter_id, _ = queue_by_name(template, defaults["SQS_DEAD_LETTER_QUEUE_NAME"])

    redrive = queue["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": [dead_letter_id, "Arn"]}
    assert redrive["maxReceiveCount"] == 3


def test_retention_is_four_days_then_fourteen(template, defaults):
    _, queue = queue_by_name(template, defaults["SQS_QUEUE_NAME"])
    _, dead_letter = queue_by_name(template, defaults["SQS_DEAD_LETTER_QUEUE_NAME"])

    assert queue["MessageRetentionPeriod"] == 4 * 86400
    assert dead_letter["MessageRetentionPeriod"] == 14 * 86400


def test_outputs_give_urls_and_arns(template, defaults):
    queue_id, _ = queue_by_name(template, defaults["SQS_QUEUE_NAME"])
    dead_letter_id, _ = queue_by_name(template, defaults["SQS_DEAD_LETTER_QUEUE_NAME"])
    outputs = {name: output["Value"] for name, output in template["Outputs"].items()}

    assert outputs == {
        "QueueUrl": {"Ref": queue_id},
        "QueueArn": {"Fn::GetAtt": [queue_id, "Arn"]},
        "DeadLetterQueueUrl": {"Ref": dead_letter_id},
        "DeadLetterQueueArn": {"Fn::GetAtt": [dead_letter_id, "Arn"]},
    }
