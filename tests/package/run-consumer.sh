#!/usr/bin/env bash
# Packs AtomoCollectives, restores the .nupkg into a scratch console project outside the repository (so none of
# the repo's Directory.*.props apply), and runs a 2-rank in-process average with it. The program also checks
# the package itself: README, XML docs, license and repository metadata. Exits non-zero on any failure.
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
nupkg="$scratch/feed/AtomoCollectives.$version.nupkg"
[ -f "$nupkg" ] || { echo "package-consumer: FAIL: $nupkg was not produced" >&2; ls -l "$scratch/feed" >&2; exit 1; }
echo "package-consumer: $(basename "$nupkg") ($(stat -c %s "$nupkg") bytes)"

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
echo "package-consumer: passed in $((SECONDS - started)) s"
