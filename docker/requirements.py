"""Print the requirements of setup.cfg's install_requires and the given extras, one a
line, for installing SatuKartu's dependencies in a layer of their own (docker/Dockerfile)."""

import configparser
import sys


def requirements(path: str, extras: list[str]) -> list[str]:
    parser = configparser.ConfigParser()
    parser.read(path)
    values = [parser["options"]["install_requires"]]
    values += [parser["options.extras_require"][extra] for extra in extras]
    lines = (line.strip() for value in values for line in value.splitlines())
    return sorted({line for line in lines if line and not line.startswith("#")})


if __name__ == "__main__":
    print("\n".join(requirements(sys.argv[1], sys.argv[2].split(","))))
