#!/bin/sh
echo "lab permfail" >&2
exit 1
