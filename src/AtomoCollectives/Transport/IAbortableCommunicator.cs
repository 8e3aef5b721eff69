namespace AtomoCollectives;

/// <summary>
/// A transport that can end every rank's part in the job at once, for a rank that found the job cannot go on (the
/// collective's watchdog): <c>MPI_Abort</c> under MPI, the in-process fabric's failure path in-process. Collectives
/// over a communicator without it end their own process instead (<see cref="Environment.FailFast(string)"/>), which a
/// launcher or scheduler turns into the end of the job.
/// </summary>
internal interface IAbortableCommunicator
{
    /// <summary>Ends the job (every rank) with <paramref name="reason"/> on standard error or as the ranks' failure.</summary>
    void Abort(string reason);
}
