# Sourced by scripts/demo and scripts/test: installs npm dependencies when they are missing or
# older than package-lock.json (npm writes node_modules/.package-lock.json on every install).
if [[ ! -d node_modules || ! -e node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "npm ci"
  npm ci --no-audit --no-fund </dev/null
fi
