using System.Diagnostics.CodeAnalysis;
using System.Reflection;

namespace AtomoCollectives;

/// <summary>
/// A setting each rank may choose for itself (a timeout): left out of <see cref="OptionsHash"/>, so ranks need not agree on it.
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
internal sealed class RankLocalAttribute : Attribute
{
}

/// <summary>
/// The one hash of an options object that every rank must share: every public settable property, by name, unless it
/// is marked <see cref="RankLocalAttribute"/>. A new option is covered the moment it is added; nothing lists them by
/// hand. The same in every process (no per-process seeding), so ranks compare it in their header exchange, and saved
/// states carry it.
/// </summary>
internal static class OptionsHash
{
    /// <exception cref="NotSupportedException">A property's type has no defined hash (add it here).</exception>
    public static long Of<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicProperties)] T>(T options)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(options);
        long hash = CallAgreement.Mix(0, typeof(T).Name.Length);
        foreach (PropertyInfo property in AgreedProperties<T>())
        {
            hash = CallAgreement.Mix(hash, CallAgreement.HashString(property.Name));
            hash = CallAgreement.Mix(hash, ValueBits(property.GetValue(options), property));
        }

        return hash;
    }

    /// <summary>The properties the hash covers, in ordinal name order.</summary>
    public static IEnumerable<PropertyInfo> AgreedProperties<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicProperties)] T>() =>
        typeof(T).GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanRead && p.CanWrite && p.GetCustomAttribute<RankLocalAttribute>() is null)
            .OrderBy(p => p.Name, StringComparer.Ordinal);

    private static long ValueBits(object? value, PropertyInfo property) => value switch
    {
        Enum e => Convert.ToInt64(e, System.Globalization.CultureInfo.InvariantCulture),
        bool b => b ? 1 : 0,
        int i => i,
        long l => l,
        ulong u => (long)u,
        double d => BitConverter.DoubleToInt64Bits(d),
        _ => throw new NotSupportedException($"{property.DeclaringType?.Name}.{property.Name} ({property.PropertyType.Name}) has no defined options hash."),
    };
}
