using AtomoCollectives.MpiNet;
using AtomoCollectives.MpiNetTests;

// Usage (under mpiexec.mpich; tests/mpi/run-mpinet.sh runs them all):
//   AtomoCollectives.MpiNetTests contract [selection]        cases on MpiNetCommunicator, comma-separated: all (default:
//                                                            the shared transport and allreduce contracts + MPI.NET-only
//                                                            cases), transport (without the allreduce contract), a word
//                                                            (cases whose name contains it), -word (drop those)
//   AtomoCollectives.MpiNetTests train                       a short training run: MPI.NET's Allreduce/N, then AtomoAllreduce
//   AtomoCollectives.MpiNetTests bench [steps]               ResNet-18 set: our MPI transport, MpiNetCommunicator and
//                                                            MPI.NET's array collectives side by side (docs/transport.md)
//   AtomoCollectives.MpiNetTests bind                        only MpiNetLibrary.BindToSystemMpi(): prints REFUSED and
//                                                            exits 3 if it refuses (Open MPI's launcher, ATOMO_MPI_LIBRARY)
string mode = args.Length > 0 ? args[0] : "contract";
if (mode == "bind")
{
    try
    {
        MpiNetLibrary.BindToSystemMpi();
        MpiNetLibrary.BindToSystemMpi();   // idempotent
        Console.WriteLine($"BOUND {MpiNetLibrary.LibraryPath}");
        return 0;
    }
    catch (NotSupportedException e)
    {
        Console.WriteLine($"REFUSED {e.Message}");
        return 3;
    }
}

MpiNetLibrary.BindToSystemMpi();
MpiNetLibrary.BindToSystemMpi();   // a second call does nothing
using var environment = new MPI.Environment(ref args);
return mode switch
{
    "contract" => ContractMode.Run(args.Length > 1 ? args[1] : null),
    "train" => TrainMode.Run(),
    "bench" => BenchMode.Run(args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 8),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: AtomoCollectives.MpiNetTests contract [all|transport|word|-word,...] | train | bench [steps] | bind   (run under mpiexec.mpich)");
    return 2;
}
