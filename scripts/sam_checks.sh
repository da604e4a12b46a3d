#!/usr/bin/env bash
# Offline checks of the SAM stack: nothing here needs AWS credentials or Docker.
#
#   scripts/sam_checks.sh validate        sam validate --lint (cfn-lint on the SAM template)
#   scripts/sam_checks.sh translate-lint  samtranslator -> CloudFormation JSON -> cfn-lint (catches E3004 cycles,
#                                         which cfn-lint skips for AWS::Serverless::* resources)
#   scripts/sam_checks.sh build           sam build (arm64 manylinux wheels, python3.13 from pyenv when needed)
#   scripts/sam_checks.sh size            per-function unzipped size (function + layers) <= 250 MiB, every .so aarch64
#   scripts/sam_checks.sh checkov         checkov on template.yaml (suppressions carry reasons in the template)
#   scripts/sam_checks.sh all             all of the above, in that order
#
# The SAM CLI pins its own boto3/cfn-lint/jsonschema, so it lives in its own venv (.venv-sam), created on first use.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

export SAM_CLI_TELEMETRY=0
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-${AWS_REGION:-us-east-1}}"
REGION="$AWS_DEFAULT_REGION"
SAM_VENV="${SAM_VENV:-$ROOT/.venv-sam}"
SAM_CLI_VERSION="${SAM_CLI_VERSION:-1.170.0}"
TEMPLATE="$ROOT/template.yaml"
BUILD_DIR="$ROOT/.aws-sam/build"
TRANSLATED="$ROOT/.aws-sam/translated.json"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

# A python3.13 interpreter: on PATH, else pyenv's, else any pyenv 3.13.x install.
python313_dir() {
  local candidate
  if candidate="$(command -v python3.13 2>/dev/null)" && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null; then
    dirname "$candidate"; return 0
  fi
  if command -v pyenv >/dev/null 2>&1; then
    for version in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.13(\.[0-9]+)?$' | sort -V -r); do
      candidate="$(pyenv prefix "$version")/bin"
      [[ -x "$candidate/python3.13" ]] && { echo "$candidate"; return 0; }
    done
  fi
  for candidate in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.13*/bin; do
    [[ -x "$candidate/python3.13" ]] && { echo "$candidate"; return 0; }
  done
  return 1
}

ensure_sam() {
  if [[ ! -x "$SAM_VENV/bin/sam" ]]; then
    local pydir
    pydir="$(python313_dir)" || die "python3.13 not found (PATH or pyenv); it is needed for the SAM venv and sam build"
    log "creating $SAM_VENV with aws-sam-cli==$SAM_CLI_VERSION"
    "$pydir/python3.13" -m venv "$SAM_VENV"
    "$SAM_VENV/bin/pip" install --quiet --disable-pip-version-check "aws-sam-cli==$SAM_CLI_VERSION"
  fi
}

cmd_validate() {
  ensure_sam
  log "sam validate --lint"
  "$SAM_VENV/bin/sam" validate --lint --template-file "$TEMPLATE" --region "$REGION"
}

cmd_translate_lint() {
  ensure_sam
  mkdir -p "$(dirname "$TRANSLATED")"
  log "samtranslator -> $TRANSLATED"
  "$SAM_VENV/bin/python" "$ROOT/scripts/translate_template.py" "$TEMPLATE" "$TRANSLATED"
  # W1020 ("Fn::Sub isn't needed"): samtranslator pre-resolves parameter defaults inside LayerName, leaving
  # constant !Sub strings in its own output; the source template has none.
  log "cfn-lint on the translated template"
  "$SAM_VENV/bin/cfn-lint" --regions "$REGION" --ignore-checks W1020 -- "$TRANSLATED"
  log "translate-lint passed (no circular dependency, no lint errors)"
}

cmd_build() {
  ensure_sam
  local pydir
  pydir="$(python313_dir)" || die "python3.13 not found (PATH or pyenv): sam build checks the runtime's interpreter"
  log "sam build with $pydir/python3.13"
  PATH="$pydir:$PATH" "$SAM_VENV/bin/sam" build --template-file "$TEMPLATE" --build-dir "$BUILD_DIR" \
    --region "$REGION" --parallel --cached
}

cmd_size() {
  [[ -f "$BUILD_DIR/template.yaml" ]] || die "$BUILD_DIR/template.yaml missing: run '$0 build' first"
  ensure_sam
  "$SAM_VENV/bin/python" "$ROOT/scripts/lambda_sizes.py" "$BUILD_DIR"
}

cmd_checkov() {
  local checkov
  if [[ -x "$ROOT/.venv/bin/checkov" ]]; then checkov="$ROOT/.venv/bin/checkov"
  elif command -v checkov >/dev/null 2>&1; then checkov="$(command -v checkov)"
  else die "checkov not found: install the dev extra into .venv (pip install -e '.[dev]')"
  fi
  log "checkov (framework cloudformation) on template.yaml"
  # --skip-download: offline; no Prisma Cloud guideline mappings are needed for the built-in checks.
  BC_SKIP_MAPPING=TRUE "$checkov" --quiet --compact --skip-download --framework cloudformation -f "$TEMPLATE"
}

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; }

case "${1:-}" in
  validate) cmd_validate ;;
  translate-lint) cmd_translate_lint ;;
  build) cmd_build ;;
  size) cmd_size ;;
  checkov) cmd_checkov ;;
  all) cmd_validate; cmd_translate_lint; cmd_build; cmd_size; cmd_checkov ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 2 ;;
esac
