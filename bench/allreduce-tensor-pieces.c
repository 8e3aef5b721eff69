// How an all-dense call's pieces change MPI_Allreduce's time when each tensor is summed where it lies, as the
// library's dense route does (docs/network-benchmarks.md, "The rails calibrated in pieces, and every goal measured
// again"); bench/allreduce-pieces.c sums the tensors' concatenation instead. Tensors below a quarter of a piece
// are summed whole here (the library packs them into shared pieces; the same for every way). Each way timed `reps`
// times, interleaved, after one untimed round; the slowest rank's median printed.
//
//   mpicc -O2 -o /tmp/allreduce-tensor-pieces bench/allreduce-tensor-pieces.c
//   mpiexec.openmpi --oversubscribe --mca btl self,tcp --mca mpi_yield_when_idle 1 -n 4 /tmp/allreduce-tensor-pieces SET [reps]
//
// SET: 0 ResNet-18's 62 tensors (11,688,512 floats), 1 the mlp-wide real set's 6 (784-2048-1024-10, 3,716,106 floats).
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static const int ResNet18[62] = {
    9408, 64, 64, 36864, 64, 64, 36864, 64, 64, 36864, 64, 64, 36864, 64, 64, 73728, 128, 128, 147456, 128, 128,
    8192, 128, 128, 147456, 128, 128, 147456, 128, 128, 294912, 256, 256, 589824, 256, 256, 32768, 256, 256, 589824,
    256, 256, 589824, 256, 256, 1179648, 512, 512, 2359296, 512, 512, 131072, 512, 512, 2359296, 512, 512, 2359296,
    512, 512, 512000};
static const int MlpWide[6] = {1605632, 2048, 2097152, 1024, 10240, 10};

enum { Ways = 4, Piece = 1000000 };
static const char *Names[Ways] = {"whole tensor", "10^6 + rest (the library)", "equal pieces <= 10^6", "10^6, rest < 1/4 joined"};

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void sum(float *data, long count) {
    MPI_Allreduce(MPI_IN_PLACE, data, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
}

static void sum_tensor(float *data, long n, int way) {
    if (way == 0 || n <= Piece || n < Piece / 4) {
        sum(data, n);
    } else if (way == 1) {                      // pieces of 10^6 floats, the last one what is left
        for (long at = 0; at < n; at += Piece) sum(data + at, n - at < Piece ? n - at : Piece);
    } else if (way == 2) {                      // ceil(n / 10^6) pieces of (nearly) equal length
        long k = (n + Piece - 1) / Piece;
        for (long i = 0, at = 0; i < k; i++) {
            long length = (n * (i + 1)) / k - (n * i) / k;
            sum(data + at, length);
            at += length;
        }
    } else {                                    // pieces of 10^6 floats, a last piece below 1/4 of one joined to the one before
        for (long at = 0; at < n;) {
            long length = n - at <= Piece + Piece / 4 ? n - at : Piece;
            sum(data + at, length);
            at += length;
        }
    }
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, ranks, set = argc > 1 ? atoi(argv[1]) : 0, reps = argc > 2 ? atoi(argv[2]) : 9;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);
    if (reps < 1) reps = 9;
    const int *tensors = set == 1 ? MlpWide : ResNet18;
    int count = set == 1 ? 6 : 62;
    float **data = malloc(sizeof(float *) * count);
    for (int t = 0; t < count; t++) {
        data[t] = malloc(sizeof(float) * tensors[t]);
        for (long i = 0; i < tensors[t]; i++) data[t][i] = 1e-3f;
    }

    double *seconds = malloc(sizeof(double) * Ways * reps);
    for (int r = -1; r < reps; r++) {           // one untimed round
        for (int w = 0; w < Ways; w++) {
            MPI_Barrier(MPI_COMM_WORLD);
            double start = MPI_Wtime();
            for (int t = 0; t < count; t++) sum_tensor(data[t], tensors[t], w);
            double mine = MPI_Wtime() - start, slowest;
            MPI_Allreduce(&mine, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
            if (r >= 0) seconds[w * reps + r] = slowest;
        }
    }

    if (rank == 0) {
        printf("N = %d, %s's %d tensors summed in place, each on its own, median of %d (ms)\n", ranks, set == 1 ? "mlp-wide" : "ResNet-18", count, reps);
        for (int w = 0; w < Ways; w++) {
            qsort(seconds + w * reps, reps, sizeof(double), compare);
            printf("  %-28s %8.1f\n", Names[w], seconds[w * reps + reps / 2] * 1e3);
        }
    }
    for (int t = 0; t < count; t++) free(data[t]);
    free(data);
    free(seconds);
    MPI_Finalize();
    return 0;
}
