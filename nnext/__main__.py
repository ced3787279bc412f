"""`python -m nnext`: the tutorials computed by numpy and by nnext, side by side."""

import sys

from .tutorials import run


def main():
    report = run()
    return 0 if report["agree"] else 1


if __name__ == "__main__":
    sys.exit(main())
