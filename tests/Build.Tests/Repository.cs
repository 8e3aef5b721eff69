namespace AtomoCollectives.Build.Tests;

/// <summary>The checkout these tests run from: the directory above the test binaries that holds AtomoCollectives.slnx.</summary>
internal static class Repository
{
    public static string Root { get; } = FindRoot();

    private static string FindRoot()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "AtomoCollectives.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"no AtomoCollectives.slnx above {AppContext.BaseDirectory}");
    }
}
