#!/usr/bin/env bash
# Refreshes the explorer's vendored production builds in api/explorer/vendor
# from the npm registry. The files are committed: the binary serves them, so
# the explorer works offline and under a strict Content-Security-Policy.
# Bump a version below, run this, check the browser test, commit the result.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  graphiql@4.1.2
  @graphiql/plugin-explorer@4.0.6
  react@18.3.1
  react-dom@18.3.1
  graphql-ws@5.16.2
)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && for package in "${packages[@]}"; do npm pack --silent "$package" >/dev/null; done)
for archive in "$work"/*.tgz; do
  name=$(basename "$archive" .tgz)
  mkdir -p "$work/$name"
  tar -xzf "$archive" -C "$work/$name"
done

out=api/explorer/vendor
rm -rf "$out"
mkdir -p "$out/licenses"
copy() { cp "$work/$1/package/$2" "$out/$3"; }
copy graphiql-4.1.2 graphiql.min.js graphiql.min.js
copy graphiql-4.1.2 graphiql.min.css graphiql.min.css
copy graphiql-plugin-explorer-4.0.6 dist/index.umd.js plugin-explorer.umd.js
copy graphiql-plugin-explorer-4.0.6 dist/style.css plugin-explorer.css
copy react-18.3.1 umd/react.production.min.js react.production.min.js
copy react-dom-18.3.1 umd/react-dom.production.min.js react-dom.production.min.js
copy graphql-ws-5.16.2 umd/graphql-ws.min.js graphql-ws.min.js
for name in graphiql-4.1.2 graphiql-plugin-explorer-4.0.6 react-18.3.1 react-dom-18.3.1 graphql-ws-5.16.2; do
  if compgen -G "$work/$name/package/LICENSE*" >/dev/null; then
    cp "$work/$name/package/LICENSE"* "$out/licenses/$name.LICENSE"
  else
    # Some packages ship no LICENSE file; record the license their manifest declares.
    node -e 'const p=require(process.argv[1]); console.log(`${p.name}@${p.version}: ${p.license} license (no LICENSE file in the package)`)' \
      "$work/$name/package/package.json" > "$out/licenses/$name.LICENSE"
  fi
done
# Source maps point at files we do not serve.
sed -i '/^\/\/# sourceMappingURL=/d' "$out"/*.js
printf '%s\n' "${packages[@]}" > "$out/VERSIONS"
(cd "$out" && sha256sum ./*.js ./*.css > SHA256SUMS)
echo "vendored into $out:"
ls -l "$out"
