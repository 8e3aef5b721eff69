/* The C half of the MPI binding overhead measurement (see run-overhead.sh and docs/mpi-overhead.md).
 * Same loop as tests/AtomoCollectives.MpiTests/OverheadBenchmark.cs: per sample, MPI_Barrier, MPI_Wtime,
 * `reps` back-to-back calls, MPI_Wtime (after >= 0.3 s of warm-up); a rank's per-call time is the median over samples; the reported
 * figure is the maximum of that over ranks. Same sizes, same calls (MPI_Allgatherv of MPI_BYTE with explicit
 * counts/displacements; MPI_Allreduce MPI_IN_PLACE of MPI_FLOAT with MPI_SUM on MPI_COMM_WORLD).
 * Build: mpicc -O2 -o mpi_overhead mpi_overhead.c      Run: mpiexec -n 2 ./mpi_overhead [scale] */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void plan(int bytes, double scale, int *reps, int *samples)
{
    if (bytes <= 4096) { *reps = 200; *samples = 31; }
    else if (bytes <= (1 << 20)) { *reps = 10; *samples = 31; }
    else { *reps = 2; *samples = 15; }
    *reps = (int)(*reps * scale);
    if (*reps < 1) *reps = 1;
}

static int compare(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

enum op { ALLGATHERV, ALLREDUCE };

struct args {
    enum op op;
    char *send, *receive;
    int *counts, *displs;
    int bytes;
    float *dense;
};

static void call(const struct args *a)
{
    if (a->op == ALLGATHERV)
        MPI_Allgatherv(a->send, a->bytes, MPI_BYTE, a->receive, a->counts, a->displs, MPI_BYTE, MPI_COMM_WORLD);
    else
        MPI_Allreduce(MPI_IN_PLACE, a->dense, a->bytes / (int)sizeof(float), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
}

static double measure(const struct args *a, int reps, int samples)
{
    /* Warm-up, same rule as OverheadBenchmark.cs: at least reps + 2 calls and at least 0.3 s (rank 0's clock). */
    double start = MPI_Wtime();
    int keep_going;
    do {
        for (int i = 0; i < reps + 2; i++) call(a);
        keep_going = MPI_Wtime() - start < 0.3;
        MPI_Bcast(&keep_going, 1, MPI_INT, 0, MPI_COMM_WORLD);
    } while (keep_going);
    double *times = malloc(sizeof(double) * samples);
    for (int s = 0; s < samples; s++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        for (int i = 0; i < reps; i++) call(a);
        times[s] = (MPI_Wtime() - t0) / reps;
    }
    qsort(times, samples, sizeof(double), compare);
    double median = times[samples / 2], worst;
    free(times);
    MPI_Allreduce(&median, &worst, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    return worst;
}

int main(int argc, char **argv)
{
    int provided, rank, size;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided); /* same thread level as the .NET binding */
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    double scale = argc > 1 ? atof(argv[1]) : 1.0;
    const int sizes[] = { 4 << 10, 1 << 20, 16 << 20 };
    for (int k = 0; k < 3; k++) {
        int bytes = sizes[k], reps, samples;
        plan(bytes, scale, &reps, &samples);
        struct args a = { 0 };
        a.bytes = bytes;
        a.send = malloc(bytes);
        memset(a.send, rank, bytes);
        a.receive = malloc((size_t)bytes * size);
        a.counts = malloc(sizeof(int) * size);
        a.displs = malloc(sizeof(int) * size);
        for (int r = 0; r < size; r++) { a.counts[r] = bytes; a.displs[r] = r * bytes; }
        a.dense = calloc(bytes / sizeof(float), sizeof(float));
        const char *names[] = { "allgatherv", "allreduce" };
        for (int o = 0; o < 2; o++) {
            a.op = (enum op)o;
            double t = measure(&a, reps, samples);
            if (rank == 0) {
                printf("RESULT impl=c op=%s n=%d bytes=%d median_us=%.3f\n", names[o], size, bytes, t * 1e6);
                fflush(stdout);
            }
        }
        free(a.send); free(a.receive); free(a.counts); free(a.displs); free(a.dense);
    }
    MPI_Finalize();
    return 0;
}
