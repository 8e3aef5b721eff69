#!/usr/bin/env pwsh
#Requires -Version 7.0
<#
.SYNOPSIS
    Builds, tests, packs and runs AtomoCollectives with the dotnet CLI (no CMake, no other tools).

.DESCRIPTION
    Runs the given tasks in order and stops at the first failure with a non-zero exit code. Each task runs the
    dotnet command(s) that README.md lists under "Build script" (a test, tests/Build.Tests, checks that the two agree).

      Restore  dotnet restore
      Build    dotnet build -c Release
      Test     dotnet test -c Release
      Pack     dotnet pack src/AtomoCollectives/AtomoCollectives.csproj -c Release -o artifacts/packages
               dotnet pack src/AtomoCollectives.MpiNet/AtomoCollectives.MpiNet.csproj -c Release -o artifacts/packages
      Run      dotnet build src/Examples/Examples.csproj -c Release, then
               mpiexec -n 4 dotnet src/Examples/bin/Release/net10.0/Examples.dll train --output runs/build-ps1
      Bench    dotnet run -c Release --project tests/AtomoCollectives.Benchmarks -- --filter '*SparsifierBenchmarks*'

.EXAMPLE
    ./build.ps1                                   # Build
    ./build.ps1 -Task Restore,Build,Test,Pack
    ./build.ps1 -Task Run -Ranks 16 -MpiexecArguments '--oversubscribe' -RunArguments '--compressor','qsgd'
    ./build.ps1 -Task Bench -BenchFilter '*CodecBenchmarks*'
#>
[CmdletBinding()]
param(
    # The tasks to run, in order.
    [ValidateSet('Restore', 'Build', 'Test', 'Pack', 'Run', 'Bench')]
    [string[]] $Task = @('Build'),

    # Build configuration for Build, Test, Pack, Run and Bench.
    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Release',

    # MPI ranks for Run (mpiexec -n).
    [ValidateRange(1, 65536)]
    [int] $Ranks = 4,

    # The MPI launcher for Run: mpiexec, mpiexec.openmpi, mpiexec.mpich, mpirun, ...
    [string] $Mpiexec = 'mpiexec',

    # Extra launcher options for Run, e.g. '--oversubscribe', '--allow-run-as-root'.
    [string[]] $MpiexecArguments = @(),

    # Where Run writes metrics.csv, summary.json and logs/.
    [string] $RunOutput = 'runs/build-ps1',

    # Extra options for `Examples train` in Run, e.g. '--compressor', 'qsgd', '--max-steps', '100'.
    [string[]] $RunArguments = @(),

    # Where Pack writes AtomoCollectives.<version>.nupkg.
    [string] $PackageOutput = 'artifacts/packages',

    # BenchmarkDotNet filter for Bench.
    [string] $BenchFilter = '*SparsifierBenchmarks*'
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
$env:DOTNET_CLI_TELEMETRY_OPTOUT = '1'
$env:DOTNET_NOLOGO = '1'

# Native commands do not throw: every dotnet/mpiexec call is followed by this check.
function Assert-LastExitCode([string] $What) {
    if ($LASTEXITCODE -ne 0) {
        throw "$What failed with exit code $LASTEXITCODE"
    }
}

function Invoke-Restore {
    dotnet restore
    Assert-LastExitCode 'dotnet restore'
}

function Invoke-Build {
    dotnet build -c $Configuration
    Assert-LastExitCode 'dotnet build'
}

function Invoke-Test {
    dotnet test -c $Configuration
    Assert-LastExitCode 'dotnet test'
}

function Invoke-Pack {
    dotnet pack src/AtomoCollectives/AtomoCollectives.csproj -c $Configuration -o $PackageOutput
    Assert-LastExitCode 'dotnet pack'
    dotnet pack src/AtomoCollectives.MpiNet/AtomoCollectives.MpiNet.csproj -c $Configuration -o $PackageOutput
    Assert-LastExitCode 'dotnet pack (MpiNet)'
    Get-ChildItem -Path $PackageOutput -Filter 'AtomoCollectives.*.nupkg' | ForEach-Object { Write-Host "package: $($_.FullName)" }
}

function Invoke-Run {
    dotnet build src/Examples/Examples.csproj -c $Configuration
    Assert-LastExitCode 'dotnet build (Examples)'
    & $Mpiexec -n $Ranks @MpiexecArguments dotnet "src/Examples/bin/$Configuration/net10.0/Examples.dll" train --output $RunOutput @RunArguments
    Assert-LastExitCode "$Mpiexec -n $Ranks"
}

function Invoke-Bench {
    # '--' quoted: PowerShell drops a bare -- (its end-of-parameters marker) instead of passing it to dotnet.
    dotnet run -c $Configuration --project tests/AtomoCollectives.Benchmarks '--' --filter $BenchFilter
    Assert-LastExitCode 'dotnet run (benchmarks)'
}

Push-Location -Path $PSScriptRoot
try {
    foreach ($name in $Task) {
        Write-Host "==> $name"
        & "Invoke-$name"
    }
    Write-Host "build.ps1: $($Task -join ', ') succeeded"
    exit 0
}
catch {
    [Console]::Error.WriteLine("build.ps1: $($_.Exception.Message)")
    exit 1
}
finally {
    Pop-Location
}
