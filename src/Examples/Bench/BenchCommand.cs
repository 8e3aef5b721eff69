using System.CommandLine;
using System.Globalization;
using System.Numerics;
using AtomoCollectives.Examples.Hosting;

namespace AtomoCollectives.Examples.Bench;

/// <summary>
/// <c>bench</c>: dense <c>MPI_Allreduce</c> against every <see cref="AtomoAllreduce"/> configuration on the MLP's
/// and ResNet-18's gradient shapes (synthetic) or on captured real gradients, side by side in one run; <c>bench model</c>: the α–β cost model fitted to
/// those measurements and projected to 1024 ranks.
/// </summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var sets = new Option<string>("--sets")
        {
            Description = "Gradient sets, comma-separated: mlp, resnet18 (synthetic), or a capture directory of real gradients (capture:PATH, or a path; see docs/gradient-captures.md).",
            DefaultValueFactory = _ => "mlp,resnet18",
        };
        var captureStep = new Option<long?>("--capture-step") { Description = "The captured step to use from capture directories (default: the last one in each manifest)." };
        var configs = new Option<string>("--configs")
        {
            Description = "Configurations, comma-separated, or 'all': dense, dense-node (node-aware dense; ATOMO_RANKS_PER_NODE groups ranks into nodes on one machine), atomo-spectral-s1..s3, atomo-coordinate, atomo-fourier, qsgd, terngrad; and, only when named, atomo-spectral-s3-flat (the flat exchange even over nodes). dense is always included.",
            DefaultValueFactory = _ => "all",
        };
        var routing = new Option<string>("--routing")
        {
            Description = "How ATOMO decides which tensors go dense: time (the library's default: predicted step time, from an online link model), bytes (payload against the dense allreduce's bytes), or both (each configuration twice, the byte rule's named NAME-bytes).",
            DefaultValueFactory = _ => "time",
        };
        var ranks = new Option<int>("--ranks") { Description = "In-process ranks when not started by mpiexec (ignored under MPI).", DefaultValueFactory = _ => 4 };
        var warmup = new Option<int>("--warmup") { Description = $"Untimed steps per configuration (at least {CollectiveBench.TimeRoutingWarmup} where ATOMO routes by time: its model decides from the 5th call on).", DefaultValueFactory = _ => 2 };
        var steps = new Option<int>("--steps") { Description = "Timed steps per configuration (the median is reported).", DefaultValueFactory = _ => 5 };
        var terms = new Option<int>("--terms") { Description = "Rank-1 terms per synthetic gradient matrix.", DefaultValueFactory = _ => 6 };
        var decay = new Option<double>("--decay") { Description = "Weight ratio of consecutive rank-1 terms.", DefaultValueFactory = _ => 0.5 };
        var noise = new Option<double>("--noise") { Description = "Gaussian noise, as a fraction of the low-rank part's Frobenius norm.", DefaultValueFactory = _ => 0.01 };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the data and of the sparsifiers.", DefaultValueFactory = _ => 2018UL };
        var output = new Option<string>("--output") { Description = "Directory for the CSV, markdown and PNG files.", DefaultValueFactory = _ => "bench-results" };
        var label = new Option<string?>("--label") { Description = "Tag for rows and file names (e.g. the emulated rate); default 'inprocess' or 'mpi'." };
        var calibrate = new Option<bool>("--calibrate") { Description = "Also time dense allreduces of 1 KiB to 8 MiB, for the cost model's alpha and beta." };
        foreach (Option<int> option in (Option<int>[])[ranks, steps, terms])
        {
            option.Validators.Add(result =>
            {
                if (result.GetValueOrDefault<int>() < 1)
                {
                    result.AddError($"{result.Option.Name} must be at least 1.");
                }
            });
        }

        NotNegative(warmup);
        var command = new Command("bench", "Time dense MPI_Allreduce against ATOMO (spectral s=1..3, coordinate, Fourier, QSGD, TernGrad) on the MLP's and ResNet-18's gradient shapes: encode/exchange/decode per step, bytes per rank, ratio and speedup; writes CSV and a PNG.")
        {
            sets, configs, routing, ranks, warmup, steps, terms, decay, noise, seed, output, label, calibrate, captureStep,
        };
        command.SetAction(parsed => Cli.ExamplesCli.Guard(() =>
        {
            var model = new GradientModel(parsed.GetValue(terms), parsed.GetValue(decay), parsed.GetValue(noise), parsed.GetValue(seed));
            var settings = new BenchSettings(
                parsed.GetValue(label) ?? (MpiEnvironment.IsLaunchedByMpi ? "mpi" : "inprocess"),
                ParseSets(parsed.GetValue(sets)!, parsed.GetValue(captureStep)),
                BenchConfigurations.Select(parsed.GetValue(configs), parsed.GetValue(seed), BenchConfigurations.ParseRouting(parsed.GetValue(routing)!)),
                model,
                parsed.GetValue(warmup),
                parsed.GetValue(steps),
                parsed.GetValue(calibrate));
            return Run(settings, parsed.GetValue(ranks), parsed.GetValue(output)!);
        }));
        command.Subcommands.Add(ModelCommand());
        return command;
    }

    /// <summary>The <c>--sets</c> list: synthetic names and capture directories, each set once.</summary>
    /// <exception cref="ArgumentException">Empty, unknown, a duplicate, or a bad <c>--capture-step</c>.</exception>
    internal static IReadOnlyList<GradientSet> ParseSets(string list, long? captureStep)
    {
        if (captureStep < 1)
        {
            throw new ArgumentException($"--capture-step must be at least 1, not {captureStep}.");
        }

        GradientSet[] sets = [.. list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(entry => GradientSets.Resolve(entry, captureStep))];
        if (sets.Length == 0)
        {
            throw new ArgumentException("--sets names no gradient set.");
        }

        if (sets.GroupBy(s => s.Name).FirstOrDefault(g => g.Count() > 1) is { } twice)
        {
            throw new ArgumentException($"--sets lists the set '{twice.Key}' twice.");
        }

        if (captureStep is not null && sets.All(s => s.Capture is null))
        {
            throw new ArgumentException("--capture-step needs a capture directory in --sets.");
        }

        return sets;
    }

    private static int Run(BenchSettings settings, int inProcessRanks, string directory)
    {
        // Before minutes of timing: an unwritable directory is an error now, not after the run.
        try
        {
            Directory.CreateDirectory(directory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"cannot create the output directory '{directory}' (--output): {e.Message}", e);
        }
        return RankHost.Run(inProcessRanks, world =>
        {
            bool lead = world.Rank == 0;
            void Say(string line)
            {
                if (lead)
                {
                    Console.WriteLine(line);
                    Console.Out.Flush();
                }
            }

            Say($"bench: {world.Size} ranks ({(MpiEnvironment.IsLaunchedByMpi ? "MPI" : "in-process")}), label '{settings.Label}', {settings.Warmup} warm-up + {settings.Steps} timed steps per configuration, the configurations in turn step by step; median step reported (slowest rank)");
            if (settings.Sets.Any(s => s.Capture is null))
            {
                Say($"synthetic data: {settings.Model.Describe()}");
            }

            Say($"machine: {Environment.ProcessorCount} cores, load average {LoadAverage()} (other work on the machine slows compute-bound stages)");
            foreach (GradientSet set in settings.Sets)
            {
                Say(BenchReport.DescribeShapes(set).TrimEnd());
            }

            Say("configurations:");
            foreach (BenchConfiguration configuration in settings.Configurations)
            {
                Say($"  {configuration.Name,-26} {configuration.Description}{(configuration.IsDense ? "" : $"; routed by {configuration.Routing}")}");
            }

            BenchRun run = CollectiveBench.Run(world, settings, lead ? line => Say($"  running {line}") : null);
            if (lead)
            {
                foreach (GradientSet set in settings.Sets)
                {
                    Say($"\n{set.Label}, N = {world.Size}, read-once of the set {run.Configs.First(r => r.Set == set.Name).ReadOnceSeconds * 1e3:F2} ms:");
                    Say(BenchReport.Table(run.Configs, set.Name).TrimEnd());
                }

                if (run.Calibration.Count > 0)
                {
                    foreach (IGrouping<CalibrationLevel, CalibrationPoint> level in run.Calibration.GroupBy(p => p.Level))
                    {
                        Say($"\ndense allreduce calibration, {level.Key.ToString().ToLowerInvariant()} ({level.First().GroupRanks} ranks): " + string.Join(", ", level.Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.Bytes} B {p.Seconds * 1e3:F3} ms"))));
                    }
                }

                Say($"load average at the end: {LoadAverage()}");
                foreach (string path in BenchReport.Write(run, directory, settings.Label, world.Size))
                {
                    Say($"wrote {path}");
                }
            }

            return 0;
        });
    }

    /// <summary>The 1/5/15-minute load averages (Linux), or "unknown".</summary>
    private static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "unknown";
        }
        catch (UnauthorizedAccessException)
        {
            return "unknown";
        }
    }

    private static Option<T> NotNegative<T>(Option<T> option) where T : INumber<T>
    {
        option.Validators.Add(result =>
        {
            if (T.IsNegative(result.GetValueOrDefault<T>()))
            {
                result.AddError($"{option.Name} must not be negative.");
            }
        });
        return option;
    }

    private static Command ModelCommand()
    {
        var input = new Option<string[]>("--input")
        {
            Description = "Directory with the bench's CSV files. Repeat it for several runs of one bench command: the model is then fitted to and checked against their medians (runs over nodes: each run against its own fit too).",
            DefaultValueFactory = _ => ["bench-results"],
        };
        var label = new Option<string>("--label") { Description = "Label of the emulated runs to fit and check against.", DefaultValueFactory = _ => "1gbit" };
        var rate = new Option<string>("--rate") { Description = "The emulated link's rate (tc syntax).", DefaultValueFactory = _ => "1gbit" };
        var cores = new Option<int>("--cores") { Description = "Cores the emulated ranks shared (compute is scaled by N/cores above that).", DefaultValueFactory = _ => Environment.ProcessorCount };
        var set = new Option<string>("--set") { Description = "Gradient set to model: mlp, resnet18 or a capture directory (its last step unless --capture-step), as in bench --sets.", DefaultValueFactory = _ => "resnet18" };
        var captureStep = new Option<long?>("--capture-step") { Description = "The captured step, when --set is a capture directory (default: its last)." };
        var output = new Option<string>("--output") { Description = "Directory for model CSV, markdown and PNG.", DefaultValueFactory = _ => "bench-results" };
        var clusterAlpha = new Option<double>("--cluster-alpha-us")
        {
            Description = "Per-message latency of the projected clusters, microseconds (MPI over TCP on 10-100 GbE: ~10-50 us). The emulation's own alpha is fitted, but on a time-sliced 2-core machine it is scheduling, not network.",
            DefaultValueFactory = _ => 25.0,
        };
        Option<double> nodeGbytes = NotNegative(new Option<double>("--node-gbytes")
        {
            Description = "Runs with nodes: bandwidth within a node per rank in the projection, GB/s (default: the emulation's node sum with one core per rank; real shared memory is faster).",
            DefaultValueFactory = _ => 0.0,
        });
        Option<int> nodeGroups = NotNegative(new Option<int>("--node-groups")
        {
            Description = "Runs with nodes: nodes per group of node-aware ATOMO (AtomoOptions.NodeGroupSize), in the projection and in the prediction of the measured runs (give the runs' ATOMO_NODE_GROUP_SIZE): 0 = the library's automatic rule (round(sqrt M) from 32 nodes on), 1 = no groups.",
            DefaultValueFactory = _ => 0,
        });
        var command = new Command("model", "Fit the alpha-beta cost model to the bench's emulated runs, report its error against every measured configuration, and project: dense ring allreduce vs ATOMO allgather to N = 2..1024 ranks, or, for runs over emulated nodes (bench/netem.sh --nodes), dense, node-aware dense and node-aware ATOMO to 1..128 nodes of 8 ranks; at 1/10/25/100 Gbit/s.")
        {
            input, label, rate, cores, set, output, clusterAlpha, captureStep, nodeGbytes, nodeGroups,
        };
        command.SetAction(parsed => Cli.ExamplesCli.Guard(() => CostModelReport.Run(
            parsed.GetValue(input)!, parsed.GetValue(label)!, CostModel.ParseRate(parsed.GetValue(rate)!), parsed.GetValue(cores), parsed.GetValue(set)!, parsed.GetValue(output)!, parsed.GetValue(clusterAlpha) * 1e-6, parsed.GetValue(captureStep), parsed.GetValue(nodeGbytes) * 1e9, parsed.GetValue(nodeGroups))));
        return command;
    }
}
