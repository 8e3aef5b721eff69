namespace AtomoCollectives;

/// <summary>
/// Runs ranks as threads of this process over an in-memory <see cref="ICommunicator"/> with MPI's semantics:
/// every collective blocks until all ranks have called it, and data are copied. For tests and for running
/// without MPI. There are no timeouts and no polling: waits are woken by the last rank to arrive, or by a failure.
/// </summary>
public static class InProcessCluster
{
    /// <summary>
    /// Runs <paramref name="body"/> on <paramref name="ranks"/> threads, each with its own communicator, and
    /// returns when all have finished.
    /// </summary>
    /// <param name="ranks">Number of ranks (at least 1).</param>
    /// <param name="body">The per-rank program.</param>
    /// <exception cref="AggregateException">One or more ranks threw. It holds the original exceptions; the
    /// <see cref="RankFailedException"/>s of ranks that were only released because of them are left out.
    /// A rank that returns while others wait in a collective it never joined fails those others with
    /// <see cref="InvalidOperationException"/>, so a mismatched program ends instead of hanging.</exception>
    public static void Run(int ranks, Action<ICommunicator> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        _ = Run<bool>(ranks, communicator =>
        {
            body(communicator);
            return true;
        });
    }

    /// <summary>
    /// Runs <paramref name="body"/> on <paramref name="ranks"/> threads and returns each rank's result,
    /// indexed by rank. Failures are reported as by <see cref="Run(int, Action{ICommunicator})"/>.
    /// </summary>
    /// <param name="ranks">Number of ranks (at least 1).</param>
    /// <param name="body">The per-rank program.</param>
    /// <returns>The results, element r from rank r.</returns>
    public static T[] Run<T>(int ranks, Func<ICommunicator, T> body)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(ranks, 1);
        ArgumentNullException.ThrowIfNull(body);

        var fabric = new InProcessFabric(ranks);
        var results = new T[ranks];
        var errors = new Exception?[ranks];
        var threads = new Thread[ranks];
        for (int r = 0; r < ranks; r++)
        {
            int rank = r;
            threads[r] = new Thread(() =>
            {
                using var communicator = new InProcessCommunicator(fabric, rank);
                try
                {
                    results[rank] = body(communicator);
                    fabric.RankExited(rank);
                }
#pragma warning disable CA1031 // A rank's failure of any kind is reported to the caller, not lost.
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    errors[rank] = ex;
                    fabric.Fail(rank, ex);
                }
            })
            {
                IsBackground = true,
                Name = $"InProcessCluster rank {r}/{ranks}",
            };
        }

        foreach (Thread thread in threads)
        {
            thread.Start();
        }

        foreach (Thread thread in threads)
        {
            thread.Join();
        }

        var original = errors.Where(e => e is not null and not RankFailedException).Select(e => e!).ToList();
        if (original.Count > 0)
        {
            throw new AggregateException($"{original.Count} of {ranks} in-process ranks failed.", original);
        }

        var released = errors.Where(e => e is not null).Select(e => e!).ToList();
        if (released.Count > 0)
        {
            throw new AggregateException($"{released.Count} of {ranks} in-process ranks failed.", released);
        }

        return results;
    }
}
