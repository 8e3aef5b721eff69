// How the size of the pieces a large dense sum is cut into changes MPI_Allreduce's time (docs/node-aware.md, "Pieces").
// Sums ResNet-18's 62 gradient tensors (11,688,512 floats) in place: one allreduce per tensor, in fixed pieces of
// several sizes (powers of two and not), and in buckets of whole tensors; each way timed `reps` times, interleaved,
// and the slowest rank's median printed.
//
//   mpicc -O2 -o /tmp/allreduce-pieces bench/allreduce-pieces.c
//   mpiexec.openmpi --oversubscribe --mca btl self,tcp --mca mpi_yield_when_idle 1 -n 4 /tmp/allreduce-pieces [reps]
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static const int Tensors[62] = {
    9408, 64, 64, 36864, 64, 64, 36864, 64, 64, 36864, 64, 64, 36864, 64, 64, 73728, 128, 128, 147456, 128, 128,
    8192, 128, 128, 147456, 128, 128, 147456, 128, 128, 294912, 256, 256, 589824, 256, 256, 32768, 256, 256, 589824,
    256, 256, 589824, 256, 256, 1179648, 512, 512, 2359296, 512, 512, 131072, 512, 512, 2359296, 512, 512, 2359296,
    512, 512, 512000};

enum { Ways = 9 };
static const char *Names[Ways] = {"per tensor", "500,000", "1,000,000", "2,000,000", "2^20", "2^20+4099", "2^22",
                                  "buckets >= 2^18", "buckets >= 2^20"};
static const long Pieces[Ways] = {0, 500000, 1000000, 2000000, 1L << 20, (1L << 20) + 4099, 1L << 22, -(1L << 18), -(1L << 20)};

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void sum(float *data, long count) {
    MPI_Allreduce(MPI_IN_PLACE, data, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, ranks, reps = argc > 1 ? atoi(argv[1]) : 7;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);
    if (reps < 1) reps = 7;
    long total = 0;
    for (int t = 0; t < 62; t++) total += Tensors[t];
    float *data = malloc(total * sizeof(float));
    double *seconds = malloc(sizeof(double) * Ways * reps);
    for (long i = 0; i < total; i++) data[i] = 1e-3f;

    for (int r = 0; r < reps; r++) {
        for (int w = 0; w < Ways; w++) {
            MPI_Barrier(MPI_COMM_WORLD);
            double start = MPI_Wtime();
            long piece = Pieces[w];
            if (piece == 0) {                       // one allreduce per tensor, as a training loop without buckets
                for (long t = 0, at = 0; t < 62; at += Tensors[t++]) sum(data + at, Tensors[t]);
            } else if (piece > 0) {                 // fixed pieces, cutting through tensors
                for (long at = 0; at < total; at += piece) sum(data + at, total - at < piece ? total - at : piece);
            } else {                                // whole tensors, one allreduce once a bucket holds -piece floats
                long from = 0, at = 0;
                for (int t = 0; t < 62; t++) {
                    at += Tensors[t];
                    if (at - from >= -piece || t == 61) { sum(data + from, at - from); from = at; }
                }
            }
            double mine = MPI_Wtime() - start, slowest;
            MPI_Allreduce(&mine, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
            seconds[w * reps + r] = slowest;
        }
    }

    if (rank == 0) {
        printf("N = %d, ResNet-18's %ld floats summed in place, median of %d (ms)\n", ranks, total, reps);
        for (int w = 0; w < Ways; w++) {
            qsort(seconds + w * reps, reps, sizeof(double), compare);
            printf("  %-16s %8.1f\n", Names[w], seconds[w * reps + reps / 2] * 1e3);
        }
    }
    free(seconds);
    free(data);
    MPI_Finalize();
    return 0;
}
