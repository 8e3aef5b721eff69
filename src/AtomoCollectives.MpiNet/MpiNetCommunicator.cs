using System.Reflection;

namespace AtomoCollectives.MpiNet;

/// <summary>
/// <see cref="ICommunicator"/> over an MPI.NET <see cref="MPI.Intracommunicator"/>, so the collectives of
/// AtomoCollectives (<see cref="AtomoAllreduce"/>, <see cref="PowerSgdAllreduce"/>, …) run in a program built on
/// MPI.NET: <c>new AtomoAllreduce(new MpiNetCommunicator(MPI.Communicator.world), options)</c>.
/// </summary>
/// <remarks>
/// <para>The calls go to the same MPI library and the same communicator MPI.NET uses, through AtomoCollectives' own
/// MPI transport on the caller's spans: no copies into MPI.NET arrays, <c>MPI_Iallgatherv</c> for
/// <see cref="StartAllgatherv"/>, <c>MPI_Allgatherv_c</c> (or chunked broadcasts) beyond 2 GiB, and
/// <c>MPI_Allreduce</c> for the dense sum, exactly as <see cref="MpiEnvironment.World"/> does. Errors raise
/// <see cref="MpiException"/> (MPI.NET sets <c>MPI_ERRORS_RETURN</c> on the communicators it creates).</para>
/// <para>Create it after <c>new MPI.Environment(ref args)</c> (on Linux after
/// <see cref="MpiNetLibrary.BindToSystemMpi"/>) with MPI initialised at <c>MPI.Threading.Serialized</c> or above (MPI.NET's
/// default), and use it until the environment is disposed. Like every communicator it serves one call at a time; the
/// program's own MPI.NET calls on the same communicator must not run concurrently with its calls either.</para>
/// <para>Disposing it frees nothing: the communicator belongs to the caller. <see cref="Abort"/> ends the job with
/// <c>MPI_Abort</c> (the collectives' watchdog uses it).</para>
/// </remarks>
public sealed class MpiNetCommunicator : ICommunicator, IAbortableCommunicator
{
    /// <summary>MPI.NET keeps the native handle in an internal field; 1.4.0's NuGet build stores it as an MPICH-style <c>int</c>.</summary>
    private static readonly FieldInfo? s_handleField = typeof(MPI.Communicator).GetField("comm", BindingFlags.NonPublic | BindingFlags.Instance);

    private readonly MpiCommunicator _transport;

    /// <summary>Wraps <paramref name="communicator"/> (typically <c>MPI.Communicator.world</c>, or one made by its <c>Split</c>).</summary>
    /// <param name="communicator">An MPI.NET communicator of the running environment; it stays the caller's.</param>
    /// <exception cref="InvalidOperationException">MPI is not initialised (or already finalised), or was initialised below
    /// <c>MPI.Threading.Serialized</c>.</exception>
    /// <exception cref="NotSupportedException">An MPI.NET build whose communicator handle is not an MPICH-style <c>int</c>.</exception>
    /// <exception cref="MpiException">MPI.NET's native library cannot be found (on Linux: <see cref="MpiNetLibrary.BindToSystemMpi"/>
    /// was not called), or the communicator does not match the launcher's job.</exception>
    public MpiNetCommunicator(MPI.Intracommunicator communicator)
    {
        ArgumentNullException.ThrowIfNull(communicator);
        nint library = MpiNetLibrary.ResolveLoadedLibrary();
        if (!MPI.Environment.Initialized || MPI.Environment.Finalized)
        {
            throw new InvalidOperationException(
                "MPI is not running: create the MpiNetCommunicator after new MPI.Environment(ref args) and before disposing that environment.");
        }

        // Async averaging calls MPI from its own thread, one call at a time: that is MPI_THREAD_SERIALIZED.
        if (MPI.Environment.Threading < MPI.Threading.Serialized)
        {
            throw new InvalidOperationException(
                $"MPI was initialised with MPI.Threading.{MPI.Environment.Threading}, but AtomoCollectives may call MPI from another thread "
                + "(one call at a time): initialise with new MPI.Environment(ref args) (Serialized by default) or MPI.Threading.Serialized/Multiple.");
        }

        int handle = HandleOf(communicator);
        Interop.Libraries.Register(Interop.Libraries.Mpi, library);
        var flavor = new MpichFlavor(library);   // MS-MPI shares MPICH's handles and constants
        _transport = new MpiCommunicator(flavor, handle);
        if (_transport.Rank != communicator.Rank || _transport.Size != communicator.Size)
        {
            throw new NotSupportedException(
                $"The handle read from this MPI.NET communicator gives rank {_transport.Rank} of {_transport.Size}, MPI.NET says {communicator.Rank} of "
                + $"{communicator.Size}: this MPI.NET build is not the one MpiNetCommunicator supports (MPI.NET 1.4.0 from NuGet).");
        }

        // The wrong library under a launcher silently gives N jobs of size 1: compare the world with the launcher's count.
        MpiEnvironment.Launcher launcher = MpiEnvironment.DetectLauncher();
        if (handle == flavor.CommWorld
            && MpiEnvironment.ExpectedWorldSize(launcher, Environment.GetEnvironmentVariable) is { } expected && expected != Size)
        {
            throw new MpiException(
                $"MPI's world has {Size} rank(s) but the launcher started {expected}: the MPI library MPI.NET was bound to ({MpiNetLibrary.LibraryPath ?? "msmpi.dll"}) "
                + $"does not belong to this mpiexec. Launch with the mpiexec of that library (mpiexec.mpich for libmpich.so.12), or set {MpiEnvironment.LibraryVariable} "
                + "to the library of your launcher before MpiNetLibrary.BindToSystemMpi().");
        }
    }

    /// <inheritdoc />
    public int Rank => _transport.Rank;

    /// <inheritdoc />
    public int Size => _transport.Size;

    /// <inheritdoc />
    public void Allgather<T>(ReadOnlySpan<T> send, Span<T> receive)
        where T : unmanaged
        => _transport.Allgather(send, receive);

    /// <inheritdoc />
    public void Allgatherv(ReadOnlySpan<byte> send, ReadOnlySpan<int> counts, Span<byte> receive)
        => _transport.Allgatherv(send, counts, receive);

    /// <inheritdoc />
    public void Allgatherv(ReadOnlySpan<byte> send, ReadOnlySpan<int> counts, ReadOnlySpan<Memory<byte>> receive)
        => _transport.Allgatherv(send, counts, receive);

    /// <inheritdoc />
    public CollectiveRequest StartAllgatherv(ReadOnlyMemory<byte> send, ReadOnlySpan<int> counts, Memory<byte> receive)
        => _transport.StartAllgatherv(send, counts, receive);

    /// <inheritdoc />
    public void AllreduceSum(Span<float> data) => _transport.AllreduceSum(data);

    /// <inheritdoc />
    public void Broadcast(Span<byte> data, int root) => _transport.Broadcast(data, root);

    /// <inheritdoc />
    public void Barrier() => _transport.Barrier();

    /// <summary>Ends every rank of the communicator's job with <c>MPI_Abort</c> after writing <paramref name="reason"/> to standard error.</summary>
    /// <param name="reason">Why, for the log.</param>
    public void Abort(string reason) => _transport.Abort(reason);

    /// <summary>Nothing to free: the MPI.NET communicator belongs to the caller.</summary>
    public void Dispose()
    {
    }

    private static int HandleOf(MPI.Intracommunicator communicator)
    {
        if (s_handleField?.FieldType != typeof(int))
        {
            throw new NotSupportedException(
                $"MpiNetCommunicator supports MPI.NET 1.4.0 from NuGet (MPICH-style int handles); the loaded MPI.NET "
                + $"{typeof(MPI.Communicator).Assembly.GetName().Version} keeps its handle as {s_handleField?.FieldType.Name ?? "nothing known"}.");
        }

        return (int)s_handleField.GetValue(communicator)!;
    }
}
