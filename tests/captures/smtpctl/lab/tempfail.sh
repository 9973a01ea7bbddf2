#!/bin/sh
case "$RECIPIENT" in
  eve@*) printf 'quota|exceeded: a|b\there [bold]x[/bold] \033[31mred\n' >&2 ;;
  *) echo "échec temporaire: boîte pleine" >&2 ;;
esac
exit 75
