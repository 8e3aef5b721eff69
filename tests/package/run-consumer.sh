#!/usr/bin/env bash
# Packs AtomoCollectives and AtomoCollectives.MpiNet, restores each .nupkg into a scratch console project outside
# the repository (so none of the repo's Directory.*.props apply), and runs a 2-rank average with each: in-process
# ranks with AtomoCollectives, and 2 MPICH ranks (mpiexec.mpich) with AtomoCollectives.MpiNet over MPI.NET 1.4.0.
# The programs also check the packages themselves: README, XML docs, license, repository metadata, and that
# AtomoCollectives.MpiNet depends on exactly the AtomoCollectives packed with it. Exits non-zero on any failure.
#
#   bash tests/package/run-consumer.sh          # SCRATCH_KEEP=1 keeps the scratch directory
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 TERM=dumb
started=$SECONDS

scratch="$(mktemp -d /tmp/atomo-package.XXXXXX)"
cleanup() { local s=$?; if [ "${SCRATCH_KEEP:-0}" = 1 ] || [ $s -ne 0 ]; then echo "package-consumer: kept $scratch"; else rm -rf "$scratch"; fi; }
trap cleanup EXIT

version="$(dotnet msbuild "$repo/src/AtomoCollectives/AtomoCollectives.csproj" -getProperty:Version)"
echo "package-consumer: dotnet pack src/AtomoCollectives -c Release -o $scratch/feed (version $version)"
dotnet pack "$repo/src/AtomoCollectives/AtomoCollectives.csproj" -c Release -o "$scratch/feed" --nologo -v quiet
dotnet pack "$repo/src/AtomoCollectives.MpiNet/AtomoCollectives.MpiNet.csproj" -c Release -o "$scratch/feed" --nologo -v quiet
nupkg="$scratch/feed/AtomoCollectives.$version.nupkg"
nupkg_mpinet="$scratch/feed/AtomoCollectives.MpiNet.$version.nupkg"
for p in "$nupkg" "$nupkg_mpinet"; do
    [ -f "$p" ] || { echo "package-consumer: FAIL: $p was not produced" >&2; ls -l "$scratch/feed" >&2; exit 1; }
    echo "package-consumer: $(basename "$p") ($(stat -c %s "$p") bytes)"
done

# The scratch project: the packed folder as a source next to the machine's usual feeds, and a private package
# folder, so the restore takes this .nupkg and not an older AtomoCollectives.$version from the global cache.
app="$scratch/consumer"
mkdir -p "$app"
cat >"$app/nuget.config" <<XML
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <add key="atomo-local" value="$scratch/feed" />
  </packageSources>
  <config>
    <add key="globalPackagesFolder" value="$scratch/packages" />
  </config>
</configuration>
XML
cat >"$app/Consumer.csproj" <<XML
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>net10.0</TargetFramework>
    <Nullable>enable</Nullable>
    <ImplicitUsings>enable</ImplicitUsings>
    <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
  </PropertyGroup>
  <ItemGroup>
    <PackageReference Include="AtomoCollectives" Version="[$version]" />
  </ItemGroup>
</Project>
XML
cp "$repo/tests/package/Consumer.cs" "$app/Program.cs"

dotnet restore "$app" --nologo -v quiet
restored="$scratch/packages/atomocollectives/$version"
[ -f "$restored/atomocollectives.$version.nupkg" ] || { echo "package-consumer: FAIL: AtomoCollectives $version was not restored from $scratch/feed" >&2; exit 1; }
cmp -s "$restored/atomocollectives.$version.nupkg" "$nupkg" || { echo "package-consumer: FAIL: the restored package is not the one just packed" >&2; exit 1; }
dotnet run --project "$app" -c Release --no-restore -- "$nupkg"

# AtomoCollectives.MpiNet: a program already on MPI.NET, restored from the same feed (MPI.NET 1.4.0 from the machine's
# usual feeds), built, and run on 2 MPICH ranks.
app="$scratch/consumer-mpinet"
mkdir -p "$app"
cp "$scratch/consumer/nuget.config" "$app/"
sed -e 's/Include="AtomoCollectives"/Include="AtomoCollectives.MpiNet"/' "$scratch/consumer/Consumer.csproj" >"$app/ConsumerMpiNet.csproj"
cp "$repo/tests/package/ConsumerMpiNet.cs" "$app/Program.cs"
dotnet restore "$app" --nologo -v quiet
cmp -s "$scratch/packages/atomocollectives.mpinet/$version/atomocollectives.mpinet.$version.nupkg" "$nupkg_mpinet" \
    || { echo "package-consumer: FAIL: AtomoCollectives.MpiNet $version was not restored from $scratch/feed" >&2; exit 1; }
dotnet build "$app" -c Release --no-restore --nologo -v quiet -clp:ErrorsOnly
if [ "$(id -u)" = 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
(unset ATOMO_MPI_LIBRARY; timeout 300 mpiexec.mpich -n 2 dotnet "$app/bin/Release/net10.0/ConsumerMpiNet.dll" "$nupkg_mpinet")
echo "package-consumer: passed in $((SECONDS - started)) s"
