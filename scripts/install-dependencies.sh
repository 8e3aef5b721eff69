#!/usr/bin/env bash
# Installs the system packages AtomoCollectives uses: MPI (Open MPI and MPICH), OpenBLAS/LAPACK, FFTW (single),
# the Fashion-MNIST data set, iproute2 for the bandwidth benchmarks, and Slurm with munge for
# slurm/test-local.sh. Idempotent: packages already present are not touched, and apt is not even
# updated when nothing is missing.
set -euo pipefail

packages=(
  openmpi-bin libopenmpi-dev      # Open MPI 4.1: mpiexec.openmpi, libmpi.so.40
  mpich libmpich-dev              # MPICH 4.0: mpiexec.mpich, libmpich.so.12
  libopenblas0-pthread liblapack3 # libopenblas.so.0: cblas_sgemm, sgesdd_, sgeqrf_, sorgqr_
  libfftw3-single3                # libfftw3f.so.3: fftwf_plan_dft_r2c_1d/c2r (the DCT of Fourier atoms)
  dataset-fashion-mnist           # /usr/share/datasets/fashion-mnist/*.gz (IDX files)
  iproute2                        # tc, for emulated links in bench/netem.sh
  fonts-dejavu-core               # a font for the PNG plots (ScottPlot draws text with a system font)
  slurm-wlm munge                 # Slurm 22.05 (slurmctld, slurmd, sbatch, srun with mpi/pmix and mpi/pmi2)
  libpmix-dev                     # libpmix.so, which Slurm's mpi/pmix plugin dlopens (unversioned)
)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-dependencies: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-dependencies: run as root or install sudo; missing: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi

echo "install-dependencies: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-dependencies: done"
