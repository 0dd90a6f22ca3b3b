// Memory read bandwidth of this machine, for the power benchmark's ceiling: sums a 4 GiB buffer of
// 16-bit values with AVX2 on N threads (best of 5), then times memcpy. Build and run:
//   gcc -O3 -mavx2 -fopenmp scripts/membw.c -o /tmp/membw && /tmp/membw 1 && /tmp/membw 2
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
int main(int argc,char**argv){
  size_t bytes=(size_t)4<<30; int th=argc>1?atoi(argv[1]):2;
  uint8_t*b=aligned_alloc(64,bytes); memset(b,1,bytes);
  double best=1e9; long long tot=0;
  for(int r=0;r<5;r++){
    double s=now(); long long acc=0;
    #pragma omp parallel for num_threads(th) reduction(+:acc) schedule(static)
    for(size_t i=0;i<bytes;i+=128){
      __m256i a=_mm256_load_si256((__m256i*)(b+i));
      __m256i c=_mm256_load_si256((__m256i*)(b+i+32));
      __m256i d=_mm256_load_si256((__m256i*)(b+i+64));
      __m256i e=_mm256_load_si256((__m256i*)(b+i+96));
      __m256i x=_mm256_add_epi16(_mm256_add_epi16(a,c),_mm256_add_epi16(d,e));
      acc+=_mm256_extract_epi16(x,0);
    }
    double t=now()-s; if(t<best)best=t; tot+=acc;
  }
  printf("threads %d: read %.1f GB/s (checksum %lld)\n",th,bytes/best/1e9,tot);
  best=1e9; uint8_t*c=aligned_alloc(64,bytes/2);
  for(int r=0;r<3;r++){double s=now();
    #pragma omp parallel for num_threads(th)
    for(int k=0;k<th;k++){size_t n=bytes/2/th; memcpy(c+k*n,b+k*n,n);}
    double t=now()-s; if(t<best)best=t;}
  printf("threads %d: memcpy %.1f GB/s read+write\n",th,bytes/best/1e9);
}
