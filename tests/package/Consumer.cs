// The scratch consumer of the AtomoCollectives package (copied to Program.cs by run-consumer.sh; not part of the
// solution). Argument: the .nupkg, whose contents and metadata are checked too. Exit code 0 when all checks pass.
using System.IO.Compression;
using System.Xml.Linq;
using AtomoCollectives;

int failures = 0;
void Check(bool ok, string what)
{
    Console.WriteLine($"{(ok ? "ok  " : "FAIL")} {what}");
    failures += ok ? 0 : 1;
}

// 1. The package: library, XML docs, README, license, repository.
using (ZipArchive zip = ZipFile.OpenRead(args[0]))
{
    var names = zip.Entries.Select(e => e.FullName).ToHashSet(StringComparer.Ordinal);
    Check(names.Contains("lib/net10.0/AtomoCollectives.dll"), "package has lib/net10.0/AtomoCollectives.dll");
    Check(names.Contains("lib/net10.0/AtomoCollectives.xml"), "package has the XML documentation");
    Check(names.Contains("README.md"), "package has README.md");
    Check(names.Contains("LICENSE"), "package has LICENSE");
    ZipArchiveEntry nuspecEntry = zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal));
    using Stream stream = nuspecEntry.Open();
    XElement metadata = XDocument.Load(stream).Root!.Elements().Single(e => e.Name.LocalName == "metadata");
    string? Field(string name) => metadata.Elements().FirstOrDefault(e => e.Name.LocalName == name)?.Value;
    XElement? Element(string name) => metadata.Elements().FirstOrDefault(e => e.Name.LocalName == name);
    Check(Field("id") == "AtomoCollectives", $"id {Field("id")}");
    Check(Element("license")?.Attribute("type")?.Value == "expression" && Field("license") == "MIT", $"license expression {Field("license")}");
    Check(Field("readme") == "README.md", "readme README.md");
    Check(Element("repository")?.Attribute("type")?.Value == "git" && Element("repository")?.Attribute("url")?.Value is { Length: > 0 }, $"repository {Element("repository")?.Attribute("url")?.Value}");
    Check(!string.IsNullOrWhiteSpace(Field("description")) && !string.IsNullOrWhiteSpace(Field("authors")), "description and authors");
}

// 2. A 2-rank in-process average through the package. Each rank's 64×64 gradient has rank 1, so spectral ATOMO
//    with a budget of 2 atoms keeps every non-zero atom (p = 1): the average is exact up to rounding, compressed.
const int Rows = 64, Cols = 64;
float[] Gradient(int rank)
{
    var g = new float[Rows * Cols];
    for (int i = 0; i < Rows; i++)
    {
        for (int j = 0; j < Cols; j++)
        {
            g[(i * Cols) + j] = MathF.Sin((i + 1) * (rank + 1) * 0.1f) * MathF.Cos((j + 1) * (rank + 2) * 0.07f);
        }
    }

    return g;
}

float[] expected = new float[Rows * Cols];
for (int k = 0; k < expected.Length; k++)
{
    expected[k] = (Gradient(0)[k] + Gradient(1)[k]) / 2;
}

float[][] results = new float[2][];
float[][] vectors = new float[2][];
AllreduceStatistics[] stats = new AllreduceStatistics[2];
InProcessCluster.Run(2, world =>
{
    using var allreduce = new AtomoAllreduce(world, new AtomoOptions { Decomposition = Decomposition.Spectral, Budget = 2, Seed = 7 });
    float[] mine = Gradient(world.Rank);
    allreduce.Average(mine, TensorShape.Matrix(Rows, Cols));
    results[world.Rank] = mine;
    stats[world.Rank] = allreduce.LastCall;

    float[] vector = Enumerable.Range(0, 100).Select(i => (float)(i + (world.Rank * 1000))).ToArray();
    allreduce.Average(vector, TensorShape.Vector(vector.Length)); // 1-D: dense by default, exact
    vectors[world.Rank] = vector;
});

Check(results[0].AsSpan().SequenceEqual(results[1]), "both ranks hold bitwise-identical averages");
double maxError = expected.Select((e, k) => Math.Abs(e - results[0][k])).Max();
Check(maxError < 1e-4, $"average matches the exact mean (max |error| {maxError:E2})");
TensorDecision decision = stats[0].Decisions.Single();
Check(decision.Route == TensorRoute.Compressed, $"the matrix went {decision.Route} ({decision.Atoms} atoms, {decision.PayloadBytes} payload bytes)");
Check(stats[0].BytesSent < stats[0].DenseEquivalentBytes, $"sent {stats[0].BytesSent} bytes, dense would send {stats[0].DenseEquivalentBytes} ({stats[0].CompressionRatio:F1}x)");
Check(vectors[0].AsSpan().SequenceEqual(vectors[1]) && vectors[0].Select((v, i) => v == i + 500f).All(x => x), "the 1-D tensor's dense average is exact on both ranks");

Console.WriteLine(failures == 0 ? "package-consumer: all checks passed" : $"package-consumer: {failures} check(s) failed");
return failures == 0 ? 0 : 1;
