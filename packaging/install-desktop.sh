#!/usr/bin/env bash
# Installs the studio's desktop entry for the current user: the .desktop file, its icons (SVG and
# PNGs) and its AppStream metainfo under ${XDG_DATA_HOME:-~/.local/share}. Running it again updates
# them; --uninstall removes them.
#   bash packaging/install-desktop.sh [--exec PATH]      # install (or update)
#   bash packaging/install-desktop.sh --uninstall
# The entry starts --exec PATH, else the genstudio-gui on PATH (pip install --user, pipx), else this
# clone's .venv/bin/genstudio-gui (packaging/setup.sh); it is written into the entry as a full path.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
id=io.github.generativestudio.GenerativeStudio
data="${XDG_DATA_HOME:-$HOME/.local/share}"
apps="$data/applications" hicolor="$data/icons/hicolor" meta="$data/metainfo"
sizes="48 128 256"

uninstall=0 exe=""
while [ $# -gt 0 ]; do
  case "$1" in
    --uninstall) uninstall=1 ;;
    --exec) exe="${2:?--exec needs a path}"; shift ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install-desktop: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

refresh() {  # menus and icons pick the change up without a new login (when the tools are there); an
  # icon cache is only updated where one exists: a new one would hide icons other programs add later
  if command -v update-desktop-database >/dev/null 2>&1; then update-desktop-database -q "$apps" || true; fi
  if [ -f "$hicolor/icon-theme.cache" ] && command -v gtk-update-icon-cache >/dev/null 2>&1; then
    gtk-update-icon-cache -q -t "$hicolor" || true
  fi
}

if [ "$uninstall" -eq 1 ]; then
  rm -f "$apps/$id.desktop" "$meta/$id.metainfo.xml" "$hicolor/scalable/apps/$id.svg"
  for s in $sizes; do rm -f "$hicolor/${s}x$s/apps/$id.png"; done
  refresh
  echo "install-desktop: removed $id"
  exit 0
fi

if [ -z "$exe" ]; then
  exe="$(command -v genstudio-gui || true)"
  [ -n "$exe" ] || exe="$here/../.venv/bin/genstudio-gui"
fi
[ -x "$exe" ] || { echo "install-desktop: $exe is not an executable genstudio-gui; install the studio first" \
  "(bash packaging/setup.sh, or pip install a wheel) or give --exec PATH" >&2; exit 1; }
exe="$(cd "$(dirname "$exe")" && pwd)/$(basename "$exe")"
case "$exe" in
  *[\"\`\$\\]*) echo "install-desktop: cannot write a desktop entry for a path with \", \`, \$ or \\: $exe" >&2; exit 1 ;;
esac

src="$here/linux"
install -d "$apps" "$meta" "$hicolor/scalable/apps"
lit="${exe//&/\\&}"; lit="${lit//|/\\|}"  # the path, literal in sed's replacement
sed -e "s|^Exec=.*|Exec=\"$lit\"|" -e "s|^TryExec=.*|TryExec=$lit|" "$src/$id.desktop" > "$apps/$id.desktop.tmp"
mv -f "$apps/$id.desktop.tmp" "$apps/$id.desktop"
install -m 644 "$src/$id.metainfo.xml" "$meta/$id.metainfo.xml"
install -m 644 "$src/icons/icon.svg" "$hicolor/scalable/apps/$id.svg"
for s in $sizes; do install -D -m 644 "$src/icons/icon-$s.png" "$hicolor/${s}x$s/apps/$id.png"; done
refresh
echo "install-desktop: installed $id (runs $exe) under $data"
