// SPDX-License-Identifier: MIT
/*
 * An MPI ping-pong that checks its data, for scripts/mpi-ucx.sh: rank 0
 * sends a pattern that depends on the message size and iteration, rank 1
 * checks it and sends back its complement, rank 0 checks that. Sizes from
 * 1 B to 1 MiB (powers of 4). Prints the 4 B half round trip and the
 * 1 MiB bandwidth.
 * Exit 0 if every byte was right, 1 (MPI_Abort) at the first wrong one.
 *
 * Build: mpicc -O2 -o mpi_pingpong tests/mpi_pingpong.c
 */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_SIZE (1 << 20)

static unsigned char pattern(size_t i, int size, int iter)
{
	return (unsigned char)(i * 31 + (size_t)size * 7 + (size_t)iter * 13);
}

static void fill(unsigned char *b, int size, int iter, unsigned char mask)
{
	int i;

	for (i = 0; i < size; i++)
		b[i] = pattern(i, size, iter) ^ mask;
}

static void check(const unsigned char *b, int size, int iter,
		  unsigned char mask, int rank)
{
	int i;

	for (i = 0; i < size; i++) {
		if (b[i] != (pattern(i, size, iter) ^ mask)) {
			fprintf(stderr,
				"rank %d: size %d iter %d byte %d is 0x%02x, "
				"want 0x%02x\n",
				rank, size, iter, i, b[i],
				pattern(i, size, iter) ^ mask);
			MPI_Abort(MPI_COMM_WORLD, 1);
		}
	}
}

/* iters round trips of 'size' bytes; returns the seconds they took. */
static double pingpong(unsigned char *buf, int size, int iters, int rank)
{
	double t0 = MPI_Wtime();
	int it;

	for (it = 0; it < iters; it++) {
		if (rank == 0) {
			fill(buf, size, it, 0);
			MPI_Send(buf, size, MPI_BYTE, 1, it, MPI_COMM_WORLD);
			MPI_Recv(buf, size, MPI_BYTE, 1, it, MPI_COMM_WORLD,
				 MPI_STATUS_IGNORE);
			check(buf, size, it, 0xff, rank);
		} else {
			MPI_Recv(buf, size, MPI_BYTE, 0, it, MPI_COMM_WORLD,
				 MPI_STATUS_IGNORE);
			check(buf, size, it, 0, rank);
			fill(buf, size, it, 0xff);
			MPI_Send(buf, size, MPI_BYTE, 0, it, MPI_COMM_WORLD);
		}
	}
	return MPI_Wtime() - t0;
}

int main(int argc, char **argv)
{
	int rank, nranks, size, iters = argc > 1 ? atoi(argv[1]) : 100;
	unsigned char *buf;
	double t;

	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &nranks);
	if (nranks != 2) {
		if (!rank)
			fprintf(stderr, "run with -np 2\n");
		MPI_Abort(MPI_COMM_WORLD, 1);
	}
	buf = malloc(MAX_SIZE);
	if (!buf)
		MPI_Abort(MPI_COMM_WORLD, 1);
	for (size = 1; size <= MAX_SIZE; size *= 4) {
		t = pingpong(buf, size, size >= 65536 ? 10 : iters, rank);
		if (rank == 0 && size == 4)
			printf("mpi_pingpong: 4 B half round trip %.2f us\n",
			       t / iters / 2 * 1e6);
		if (rank == 0 && size == MAX_SIZE)
			printf("mpi_pingpong: %d B %.1f MB/s\n", size,
			       2.0 * size * 10 / t / 1e6);
	}
	if (rank == 0)
		printf("mpi_pingpong: data checked, sizes 1 B..1 MiB: PASS\n");
	free(buf);
	MPI_Finalize();
	return 0;
}
