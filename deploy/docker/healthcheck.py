"""Container HEALTHCHECK: exit 0 when GET http://127.0.0.1:<port>/healthz answers 200.

Usage: bebas-healthcheck PORT_ENV_VAR DEFAULT_PORT [PATH]. The port is read from the service's
own variable (e.g. ENROLLMENT_PORT) so a changed port needs no second change here. Standard
library only: the slim image has no curl.
"""

import os
import sys
import urllib.error
import urllib.request


def main(argv: list[str]) -> int:
    port_var, default_port = argv[0], argv[1]
    path = argv[2] if len(argv) > 2 else "/healthz"
    url = f"http://127.0.0.1:{os.environ.get(port_var, default_port)}{path}"
    try:
        with urllib.request.urlopen(url, timeout=4) as response:
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"{url}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
