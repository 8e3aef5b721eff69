// The scratch consumer of the AtomoCollectives.MpiNet package (copied to Program.cs by run-consumer.sh; not part of
// the solution), run by `mpiexec.mpich -n 2`. Argument: the .nupkg, whose contents and metadata rank 0 checks too.
// A program already on MPI.NET: BindToSystemMpi, MPI.Environment, then AtomoAllreduce over MpiNetCommunicator.
// Exit code 0 when all checks pass.
using System.IO.Compression;
using System.Xml.Linq;
using AtomoCollectives;
using AtomoCollectives.MpiNet;

MpiNetLibrary.BindToSystemMpi();
using var environment = new MPI.Environment(ref args);
MPI.Intracommunicator comm = MPI.Communicator.world;
int failures = 0;
void Check(bool ok, string what)
{
    if (comm.Rank == 0)
    {
        Console.WriteLine($"{(ok ? "ok  " : "FAIL")} {what}");
    }

    failures += ok ? 0 : 1;
}

// 1. The package: library, XML docs, README, license, and its dependencies: exactly this AtomoCollectives, MPI.NET 1.4.0.
using (ZipArchive zip = ZipFile.OpenRead(args[0]))
{
    var names = zip.Entries.Select(e => e.FullName).ToHashSet(StringComparer.Ordinal);
    Check(names.Contains("lib/net10.0/AtomoCollectives.MpiNet.dll") && names.Contains("lib/net10.0/AtomoCollectives.MpiNet.xml"), "package has lib/net10.0/AtomoCollectives.MpiNet.dll and its XML documentation");
    Check(names.Contains("README.md") && names.Contains("LICENSE"), "package has README.md and LICENSE");
    using Stream stream = zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open();
    XElement metadata = XDocument.Load(stream).Root!.Elements().Single(e => e.Name.LocalName == "metadata");
    string? Field(string name) => metadata.Elements().FirstOrDefault(e => e.Name.LocalName == name)?.Value;
    var dependencies = metadata.Descendants().Where(e => e.Name.LocalName == "dependency")
        .ToDictionary(e => e.Attribute("id")!.Value, e => e.Attribute("version")!.Value, StringComparer.Ordinal);
    Check(Field("id") == "AtomoCollectives.MpiNet" && Field("readme") == "README.md" && Field("license") == "MIT", $"id {Field("id")}, readme, MIT license");
    string version = Field("version")!;
    Check(dependencies.GetValueOrDefault("AtomoCollectives") == $"[{version}]", $"depends on exactly AtomoCollectives [{version}]: {dependencies.GetValueOrDefault("AtomoCollectives")}");
    Check(dependencies.GetValueOrDefault("MPI.NET") == "1.4.0", $"depends on MPI.NET 1.4.0: {dependencies.GetValueOrDefault("MPI.NET")}");
}

// 2. A 2-rank average over MPI.NET's world. Each rank's 64×64 gradient has rank 1, so spectral ATOMO with a budget of
//    2 atoms keeps every non-zero atom (p = 1): the average is exact up to rounding, and compressed.
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

using var world = new MpiNetCommunicator(comm);
using var allreduce = new AtomoAllreduce(world, new AtomoOptions { Decomposition = Decomposition.Spectral, Budget = 2, Seed = 7 });
float[] mine = Gradient(comm.Rank);
allreduce.Average(mine, TensorShape.Matrix(Rows, Cols));
float[] rankZero = comm.Rank == 0 ? (float[])mine.Clone() : new float[mine.Length];
comm.Broadcast(ref rankZero, 0);   // MPI.NET's own broadcast, to compare the ranks' bits
Check(comm.Allreduce(mine.AsSpan().SequenceEqual(rankZero) ? 1 : 0, MPI.Operation<int>.Min) == 1, $"all {comm.Size} ranks hold bitwise-identical averages");
double maxError = Enumerable.Range(0, mine.Length).Max(k => Math.Abs(mine[k] - (Enumerable.Range(0, comm.Size).Sum(r => (double)Gradient(r)[k]) / comm.Size)));
Check(maxError < 1e-4, $"average matches the exact mean (max |error| {maxError:E2})");
Check(allreduce.LastCall.Decisions.Single().Route == TensorRoute.Compressed, $"the matrix went {allreduce.LastCall.Decisions.Single().Route}, {allreduce.LastCall.CompressionRatio:F1}x fewer bytes than dense");

if (comm.Rank == 0)
{
    Console.WriteLine(failures == 0 ? $"package AtomoCollectives.MpiNet: all checks passed on {comm.Size} MPI.NET ranks ({MpiNetLibrary.LibraryPath})" : $"package AtomoCollectives.MpiNet: {failures} check(s) FAILED");
}

return failures == 0 ? 0 : 1;
