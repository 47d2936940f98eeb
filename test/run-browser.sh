#!/usr/bin/env bash
# Runs the real-browser test of the admin page for `make test-browser` (and
# so `make test`): builds eventguard, then runs test/browser with Node's test
# runner, playwright-core driving Debian's Chromium (never a downloaded
# browser: the machine has no network for that).
#
# Needs node (20+), npm and chromium on PATH (apt-get install chromium).
# Without them on a developer laptop the test is SKIPPED with the reason;
# with CI=true it fails instead. EVENTGUARD_SCREENSHOT=docs/admin-page.png
# refreshes the README's screenshot (default: test/browser/out/).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

skip() {
	if [[ ${CI:-} == true ]]; then
		echo "browser: cannot run in CI: $*" >&2
		exit 1
	fi
	echo "browser: SKIPPED: $*"
	exit 0
}

command -v node >/dev/null || skip "no node on PATH (Node.js 20+ runs the test)"
command -v npm >/dev/null || skip "no npm on PATH (it installs playwright-core)"
chromium="$(command -v chromium || true)"
[[ -n $chromium ]] || skip "no chromium on PATH (apt-get install chromium)"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
((node_major >= 20)) || skip "node $(node --version) is too old (playwright-core needs 20+)"

# npm ci (never a browser download) when the lock file changed since the
# last install.
if ! cmp -s test/browser/package-lock.json test/browser/node_modules/.eventguard-lock 2>/dev/null; then
	(cd test/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error >/dev/null &&
		cp package-lock.json node_modules/.eventguard-lock)
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/eventguard-browser.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/eventguard" ./cmd/eventguard

t0=$SECONDS
export EVENTGUARD_BIN="$tmp/eventguard" EVENTGUARD_CHROMIUM="$chromium"
rc=0
node --test --test-reporter=spec --test-timeout=180000 test/browser/ || rc=$?
echo "browser ($((SECONDS - t0))s, $("$chromium" --version 2>/dev/null | head -n 1), playwright-core $(node -p 'require("./test/browser/node_modules/playwright-core/package.json").version'))"
exit "$rc"
