namespace AtomoCollectives;

/// <summary>
/// Fault injection for the tests of failure handling: a failure of any kind, on one rank, in a given phase. The hook
/// is flow-local (<see cref="AsyncLocal{T}"/>): set inside one in-process rank's body it affects that rank only, and
/// tests running in parallel do not see it. Never set outside tests.
/// </summary>
internal static class TestHooks
{
    private static readonly AsyncLocal<Action<long, int>?> BeforeEncodeHook = new();
    private static readonly AsyncLocal<Action<long>?> BeforeDecodeHook = new();

    /// <summary>Called with (step, tensor) just before a tensor is encoded; may throw.</summary>
    public static Action<long, int>? BeforeEncode
    {
        get => BeforeEncodeHook.Value;
        set => BeforeEncodeHook.Value = value;
    }

    /// <summary>Called with the step just before a call decodes the received payloads; may throw.</summary>
    public static Action<long>? BeforeDecode
    {
        get => BeforeDecodeHook.Value;
        set => BeforeDecodeHook.Value = value;
    }
}
