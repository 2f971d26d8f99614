# phantom — the two commands of the README:
#   make demo   installs what is missing, builds release, runs the main job
#   make test   installs what is missing, runs the test suite
#
# System packages come from Debian (apt-get); nothing else is downloaded. Installing twice is a quick no-op.

SYSTEM_PACKAGES := libhdf5-dev hdf5-tools gnuplot-nox libopenblas-dev liblapacke-dev pkg-config time
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SWIFT ?= swift

.PHONY: lint install demo readme-figures reference test test-slurm deps python-deps build release clean

deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

# The Python packages `make test` uses beside the Swift tests: h5py and safetensors for the cross-checks with the
# reference implementations, nbconvert, nbformat, ipykernel and matplotlib for scripts/test-notebook.sh. pip installs
# the missing ones; the toolkit itself never needs Python. Where the registry cannot be reached it says so, and the
# tests that need them are skipped (visibly).
python-deps:
	@bash scripts/python-deps.sh

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

test: deps python-deps lint
	$(SWIFT) test --disable-xctest
	@bash scripts/test-notebook.sh

# The style check: `swift format lint` with the repository's .swift-format (the toolchain ships swift-format; it exits
# non-zero on any finding with --strict), and no line of Sources/ over 140 characters.
lint:
	$(SWIFT) format lint --strict -r Sources Tests --configuration .swift-format
	@python3 -c 'import glob, sys; bad = [f"{f}:{i + 1}" for f in glob.glob("Sources/**/*.swift", recursive=True) if not f.endswith(".pb.swift") for i, l in enumerate(open(f, encoding="utf-8").read().split("\n")) if len(l) > 140]; print("\n".join(bad)); sys.exit(1 if bad else 0)' \
	  || { echo "lines over 140 characters in Sources/ (above)"; exit 1; }

# A real Slurm cluster on this machine runs a sharded analysis and merges it (installs Debian's Slurm and
# munge; skipped, visibly, where they cannot be installed or started). See scripts/test-slurm.sh.
test-slurm: release
	bash scripts/test-slurm.sh

# The main job: the committed reference runs (tanh, resmlp and mdeq DEQs trained on digits with UPG(5, 0.5) by
# `phantom train`; `make reference` retrains them) analysed along training on the default grid
# (k = 1…10, λ ∈ {0.1, 0.3, 0.5, 0.7, 0.9, 1.0}; UPG, NPG, JFB): results in out/, figures in plots/{tanh,resmlp,
# mdeq,training}/. Both are ignored by git (plots/.gitignore keeps only the README's figures), so a demo run leaves
# `git status` clean on any machine.
DEMO_SAMPLES ?= 32
PHANTOM = $$($(SWIFT) build -c release --show-bin-path)/phantom

demo: release
	@test -d notebooks-data/reference/tanh-upg -a -d notebooks-data/reference/resmlp-upg -a -d notebooks-data/reference/mdeq-upg || $(MAKE) reference
	@mkdir -p out
	$(PHANTOM) analyze notebooks-data/reference/tanh-upg --samples $(DEMO_SAMPLES) -o out/results-tanh.h5 --force
	$(PHANTOM) analyze notebooks-data/reference/resmlp-upg --samples $(DEMO_SAMPLES) -o out/results-resmlp.h5 --force
	$(PHANTOM) analyze notebooks-data/reference/mdeq-upg --samples $(DEMO_SAMPLES) -o out/results-mdeq.h5 --force
	$(PHANTOM) plot out/results-tanh.h5 -o plots/tanh --force
	$(PHANTOM) plot out/results-resmlp.h5 -o plots/resmlp --force
	$(PHANTOM) plot out/results-mdeq.h5 -o plots/mdeq --force
	$(PHANTOM) plot notebooks-data/reference/tanh-upg notebooks-data/reference/resmlp-upg notebooks-data/reference/mdeq-upg -o plots/training --force

# The two figures the README shows, from a fresh demo run (the only demo outputs kept in git): plots/*.png.
readme-figures: demo
	cp plots/tanh/cosine_vs_k.png plots/tanh/bounds.png plots/

reference: release
	$(PHANTOM) train --cell tanh --hidden 64 --epochs 30 --save-every 5 --estimator upg --k 5 --lambda 0.5 --seed 0 \
	  -o notebooks-data/reference/tanh-upg --force
	$(PHANTOM) train --cell resmlp --hidden 32 --mlp-width 64 --epochs 30 --save-every 10 --estimator upg --k 5 --lambda 0.5 \
	  --seed 0 --max-iterations 200 -o notebooks-data/reference/resmlp-upg --force
	$(PHANTOM) train --cell mdeq --channels 4 --expansion 2 --groups 2 --epochs 30 --save-every 10 --estimator upg --k 5 \
	  --lambda 0.5 --seed 0 -o notebooks-data/reference/mdeq-upg --force

# Installs the phantom binary and the bundled data sets: PREFIX/bin/phantom and PREFIX/share/phantom/*.h5,
# where the binary finds them from any working directory (PHANTOM_DATA=FOLDER points elsewhere).
PREFIX ?= /usr/local
install: release
	install -d "$(PREFIX)/bin" "$(PREFIX)/share/phantom"
	install -m 755 "$(PHANTOM)" "$(PREFIX)/bin/phantom"
	install -m 644 notebooks-data/digits.h5 "$(PREFIX)/share/phantom/digits.h5"

clean:
	rm -rf .build
