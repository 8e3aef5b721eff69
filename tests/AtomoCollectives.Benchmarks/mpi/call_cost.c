/* Fixed cost of one MPI call from C, for comparison with `AtomoCollectives.MpiTests call-cost` (same loops).
 * Run at n = 1, where MPI_Barrier and an in-place MPI_Allreduce do no communication, so what is timed is the
 * call itself. Build: mpicc -O2 -o call_cost call_cost.c    Run: mpiexec -n 1 ./call_cost */
#include <mpi.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    int provided;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
    static float dense[1024];
    const int n = 2000000;
    for (int round = 0; round < 5; round++) {
        double t0 = MPI_Wtime();
        for (int i = 0; i < n; i++) MPI_Barrier(MPI_COMM_WORLD);
        double t1 = MPI_Wtime();
        for (int i = 0; i < n; i++) MPI_Allreduce(MPI_IN_PLACE, dense, 1024, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        double t2 = MPI_Wtime();
        printf("CALLCOST impl=c barrier_ns=%.1f allreduce_ns=%.1f\n", (t1 - t0) / n * 1e9, (t2 - t1) / n * 1e9);
    }
    MPI_Finalize();
    return 0;
}
