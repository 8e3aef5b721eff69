// A node's sum of a large dense buffer two ways (docs/node-aware.md, "Shared memory within the node"): as the
// collectives did it (MPI_Reduce_scatter in rounds staged from the buffer, MPI_Allgatherv of the slices, a copy into the
// buffer) and through an MPI_Win_allocate_shared window (copy in, fence, each rank sums its slice over every rank's
// copy in rank order, fence, copy every slice out), plain and in cache-sized chunks. Ranks [0, k) form node 0, [k, 2k)
// node 1, ...; every node sums at once. Prints the slowest rank's median (and minimum) over `reps`, ways interleaved.
//
//   mpicc -O2 -o /tmp/node-sum-shared bench/node-sum-shared.c
//   mpiexec.openmpi --oversubscribe --mca btl self,vader --mca mpi_yield_when_idle 1 -n 4 /tmp/node-sum-shared 4 11700000 11 1048576
//   (arguments: ranks per node, floats, repeats, floats staged per reduce-scatter round)
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static int cmp(const void*a,const void*b){double x=*(double*)a,y=*(double*)b;return x<y?-1:x>y;}
int main(int argc,char**argv){
  MPI_Init(&argc,&argv);
  int rank,size; MPI_Comm_rank(MPI_COMM_WORLD,&rank); MPI_Comm_size(MPI_COMM_WORLD,&size);
  int k = atoi(argv[1]); long n = atol(argv[2]); int reps = atoi(argv[3]); long round = atol(argv[4]);
  MPI_Comm node; MPI_Comm_split(MPI_COMM_WORLD, rank / k, rank, &node);
  int nr; MPI_Comm_rank(node,&nr);
  float *data = malloc(n*4), *stage = malloc(round*4), *mine = malloc((n/k+k)*4), *out=malloc(n*4);
  for(long i=0;i<n;i++) data[i]=1e-3f*(i%13);
  int *counts = malloc(k*sizeof(int)), *rc = malloc(k*sizeof(int)), *displs=malloc(k*sizeof(int));
  for(int l=0;l<k;l++){ counts[l]=(int)(n*(l+1)/k - n*l/k); }
  displs[0]=0; for(int l=1;l<k;l++) displs[l]=displs[l-1]+counts[l-1];
  // window: every rank's full copy + a shared result
  float *seg; MPI_Win win; MPI_Win_allocate_shared((MPI_Aint)n*4 + (nr==0? (MPI_Aint)n*4:0), 4, MPI_INFO_NULL, node, &seg, &win);
  float **peer = malloc(k*sizeof(float*)); float *result;
  for(int l=0;l<k;l++){ MPI_Aint sz; int du; MPI_Win_shared_query(win, l, &sz, &du, &peer[l]); }
  result = peer[0] + n;
  enum {W=3}; const char*names[W]={"RS rounds+allgatherv+copy out","window copy in+slice sum+copy out","window, chunked"};
  double *t = malloc(sizeof(double)*W*reps);
  MPI_Win_lock_all(MPI_MODE_NOCHECK, win);
  for(int r=0;r<reps;r++) for(int w=0;w<W;w++){
    MPI_Barrier(MPI_COMM_WORLD); double s=MPI_Wtime();
    if(w==0){
      long piece = round / k; long largest = counts[0];
      for(long done=0; done<largest; done+=piece){
        long staged=0; long start=0;
        for(int l=0;l<k;l++){ long c = counts[l]-done; if(c<0)c=0; if(c>piece)c=piece; rc[l]=(int)c; memcpy(stage+staged, data+start+done, c*4); staged+=c; start+=counts[l]; }
        MPI_Reduce_scatter(stage, mine+done, rc, MPI_FLOAT, MPI_SUM, node);
      }
      int bc[64], bd[64]; for(int l=0;l<k;l++){bc[l]=counts[l]*4; bd[l]=displs[l]*4;}
      MPI_Allgatherv(mine, bc[nr], MPI_BYTE, out, bc, bd, MPI_BYTE, node);
      memcpy(data, out, n*4);
    } else {
      memcpy(peer[nr], data, n*4);
      MPI_Win_sync(win); MPI_Barrier(node); MPI_Win_sync(win);
      long a = displs[nr], c = counts[nr];
      long chunk = w==1 ? c : 16384;
      for(long at=a; at<a+c; at+=chunk){ long m = a+c-at < chunk ? a+c-at : chunk;
        float *dst = result+at; memcpy(dst, peer[0]+at, m*4);
        for(int l=1;l<k;l++){ float *src=peer[l]+at; for(long i=0;i<m;i++) dst[i]+=src[i]; } }
      MPI_Win_sync(win); MPI_Barrier(node); MPI_Win_sync(win);
      memcpy(data, result, n*4);
      MPI_Win_sync(win); MPI_Barrier(node);
    }
    double m=MPI_Wtime()-s, sl; MPI_Allreduce(&m,&sl,1,MPI_DOUBLE,MPI_MAX,MPI_COMM_WORLD); t[w*reps+r]=sl;
    for(long i=0;i<n;i++) data[i]=1e-3f*(i%13);
  }
  MPI_Win_unlock_all(win);
  if(rank==0) for(int w=0;w<W;w++){ qsort(t+w*reps,reps,sizeof(double),cmp); printf("%-40s median %.2f ms min %.2f\n",names[w],t[w*reps+reps/2]*1e3,t[w*reps]*1e3);}
  MPI_Win_free(&win);
  MPI_Finalize();
}
