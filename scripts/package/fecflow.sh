#!/bin/sh
# /usr/bin/fecflow of the Debian package: runs the CLI installed under /usr/lib/fecflow with the
# system's Node (the package depends on nodejs >= 20), whatever node is first on the PATH.
exec /usr/bin/node /usr/lib/fecflow/bin/fecflow.js "$@"
