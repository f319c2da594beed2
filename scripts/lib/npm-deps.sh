# Sourced by scripts/demo and scripts/test: installs npm dependencies when they are missing or
# older than package-lock.json (npm writes node_modules/.package-lock.json on every install).
# `npm install`, not `npm ci`: the registry these machines reach serves only the Linux builds of
# biome's per-platform packages, so the lockfile cannot list the others and `npm ci` refuses it
# as "out of sync". `npm install` still installs the locked versions and skips the missing
# optional packages.
if [[ ! -d node_modules || ! -e node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "npm install (locked versions)"
  npm install --no-audit --no-fund </dev/null
fi
