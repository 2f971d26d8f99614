# phantom — the two commands of the README:
#   make demo   installs what is missing, builds release, runs the main job
#   make test   installs what is missing, runs the test suite
#
# System packages come from Debian (apt-get); nothing else is downloaded. Installing twice is a quick no-op.

SYSTEM_PACKAGES := libhdf5-dev hdf5-tools gnuplot-nox libopenblas-dev liblapacke-dev pkg-config
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SWIFT ?= swift

.PHONY: demo test deps python-deps build release clean

deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

# h5py lets the test suite cross-check our HDF5 files against the reference implementation; the toolkit
# itself never needs Python, and the test is skipped (visibly) when h5py cannot be installed.
python-deps:
	@python3 -c 'import h5py' 2>/dev/null || python3 -m pip install -q h5py 2>/dev/null \
	  || echo "note: h5py is not available; the h5py cross-check will be skipped"

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

test: deps python-deps
	$(SWIFT) test --disable-xctest

demo: release
	mkdir -p notebooks-data plots
	$$($(SWIFT) build -c release --show-bin-path)/phantom smoke -o notebooks-data/smoke.h5 --plot plots/smoke.png --force

clean:
	rm -rf .build
