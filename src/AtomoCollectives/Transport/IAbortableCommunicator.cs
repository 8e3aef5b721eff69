namespace AtomoCollectives;

/// <summary>
/// A transport that can end every rank's part in the job at once, for a rank that found the job cannot go on (the
/// collective's watchdog, <see cref="AtomoOptions.Timeout"/>): <c>MPI_Abort</c> under MPI, the in-process fabric's
/// failure path in-process. Collectives over a communicator without it end their own process instead
/// (<see cref="Environment.FailFast(string)"/>), which a launcher or scheduler turns into the end of the job.
/// </summary>
/// <remarks>
/// <see cref="Abort"/> is the one exception to "one call at a time": the watchdog calls it from its timer thread while
/// another thread is blocked in a collective of the same communicator, so it must not wait for that call (or take a
/// lock that call holds). A transport of your own implements this interface when it can end the other ranks; a
/// decorator forwards it to the communicator it wraps.
/// </remarks>
public interface IAbortableCommunicator
{
    /// <summary>
    /// Ends the job (every rank) with <paramref name="reason"/> on standard error or as the ranks' failure. Under MPI
    /// it does not return; in-process it fails every rank's pending and later collectives.
    /// </summary>
    /// <param name="reason">Why, for the log and the other ranks.</param>
    void Abort(string reason);
}
