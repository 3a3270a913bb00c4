/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* The kernel floor of the fanout benchmark's RTP part (not a test): what
 * the sendmmsg system calls alone cost, with no GStreamer at all.
 *
 *   udp-floor SIZES_FILE DESTINATIONS frame|single|all
 *
 * SIZES_FILE has one line per batch as the benchmark saw it leave
 * payloadbatch (one H.264 frame's RTP packets), each line the packet sizes
 * in bytes separated by spaces. The program binds DESTINATIONS UDP sockets
 * on 127.0.0.1 that nobody reads (as the benchmark's), then from one thread
 * and one unconnected sending socket sends every packet to every
 * destination: "frame" makes one sendmmsg call per batch per destination
 * (as udpsink does with a buffer list), "single" one call per packet per
 * destination (udpsink with single buffers), "all" one call per batch for
 * every destination at once (as multiudpsink does; the kernel takes at
 * most UIO_MAXIOV messages per call, the rest goes in further calls). Each
 * packet is two iovecs, a 12-byte RTP header and the payload, as
 * rtph264pay's buffers are.
 *
 * Prints one JSON object: packets, destinations, calls, user_s, sys_s and
 * us_per_pkt_dest (user + sys of the send loop, from getrusage). */

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_PACKET 65536
#define RTP_HEADER 12

typedef struct {
  size_t n_packets; /* packets in this batch */
  size_t first;     /* index of its first packet in sizes[] */
} Batch;

typedef struct {
  size_t *sizes;
  size_t n_sizes, cap_sizes;
  Batch *batches;
  size_t n_batches, cap_batches;
  size_t max_batch;
} Trace;

static int
trace_add_size (Trace *t, size_t size)
{
  if (t->n_sizes == t->cap_sizes) {
    size_t cap = t->cap_sizes ? 2 * t->cap_sizes : 4096;
    size_t *s = realloc (t->sizes, cap * sizeof *s);
    if (!s)
      return -1;
    t->sizes = s;
    t->cap_sizes = cap;
  }
  t->sizes[t->n_sizes++] = size;
  return 0;
}

static int
trace_add_batch (Trace *t, size_t first, size_t n)
{
  if (t->n_batches == t->cap_batches) {
    size_t cap = t->cap_batches ? 2 * t->cap_batches : 1024;
    Batch *b = realloc (t->batches, cap * sizeof *b);
    if (!b)
      return -1;
    t->batches = b;
    t->cap_batches = cap;
  }
  t->batches[t->n_batches].first = first;
  t->batches[t->n_batches].n_packets = n;
  t->n_batches++;
  if (n > t->max_batch)
    t->max_batch = n;
  return 0;
}

static int
trace_read (Trace *t, const char *path)
{
  FILE *f = fopen (path, "r");
  char *line = NULL;
  size_t len = 0;

  if (!f) {
    perror (path);
    return -1;
  }
  while (getline (&line, &len, f) >= 0) {
    size_t first = t->n_sizes;
    char *p = line, *end;
    for (;;) {
      unsigned long v = strtoul (p, &end, 10);
      if (end == p)
        break;
      if (v < RTP_HEADER || v > MAX_PACKET || trace_add_size (t, v) < 0)
        goto bad;
      p = end;
    }
    if (t->n_sizes > first && trace_add_batch (t, first, t->n_sizes - first))
      goto bad;
  }
  free (line);
  fclose (f);
  return t->n_sizes ? 0 : -1;

bad:
  free (line);
  fclose (f);
  fprintf (stderr, "%s: bad packet size or out of memory\n", path);
  return -1;
}

/* Sends @total messages, at most @per_call per sendmmsg call, retrying on
 * EINTR/EAGAIN/ENOBUFS. Returns 0, or -1 after printing the error. */
static int
send_all (int fd, struct mmsghdr *msgs, size_t total, size_t per_call,
          unsigned long long *calls)
{
  size_t sent = 0;
  while (sent < total) {
    size_t want = total - sent < per_call ? total - sent : per_call;
    int r = sendmmsg (fd, msgs + sent, (unsigned int)want, 0);
    (*calls)++;
    if (r < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == ENOBUFS)
        continue;
      perror ("sendmmsg");
      return -1;
    }
    sent += (size_t)r;
  }
  return 0;
}

static double
tv_s (struct timeval tv)
{
  return tv.tv_sec + tv.tv_usec / 1e6;
}

int
main (int argc, char **argv)
{
  Trace t = { 0 };
  int n_dests, single, all, sender, i;
  struct sockaddr_in *dests;
  struct mmsghdr *msgs;
  struct iovec *iov;
  static unsigned char payload[MAX_PACKET];
  struct rusage r0, r1;
  unsigned long long calls = 0;
  size_t b, k;

  if (argc != 4 || (n_dests = atoi (argv[2])) < 1
      || (strcmp (argv[3], "frame") && strcmp (argv[3], "single")
          && strcmp (argv[3], "all"))) {
    fprintf (stderr, "usage: %s SIZES_FILE DESTINATIONS frame|single|all\n",
             argv[0]);
    return 2;
  }
  single = !strcmp (argv[3], "single");
  all = !strcmp (argv[3], "all");
  if (trace_read (&t, argv[1]) < 0)
    return 1;

  /* The destinations: bound, never read (the kernel drops what their
   * receive buffers cannot hold, as in the benchmark). */
  dests = calloc (n_dests, sizeof *dests);
  for (i = 0; dests && i < n_dests; i++) {
    socklen_t alen = sizeof dests[i];
    int s = socket (AF_INET, SOCK_DGRAM, 0);
    dests[i].sin_family = AF_INET;
    dests[i].sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    if (s < 0 || bind (s, (struct sockaddr *)&dests[i], sizeof dests[i]) < 0
        || getsockname (s, (struct sockaddr *)&dests[i], &alen) < 0) {
      perror ("destination socket");
      return 1;
    }
  }
  sender = socket (AF_INET, SOCK_DGRAM, 0);
  msgs = calloc (t.max_batch * (size_t)n_dests, sizeof *msgs);
  iov = calloc (2 * t.max_batch, sizeof *iov);
  if (!dests || sender < 0 || !msgs || !iov) {
    perror ("setup");
    return 1;
  }
  memset (payload, 0x5a, sizeof payload);

  getrusage (RUSAGE_SELF, &r0);
  for (b = 0; b < t.n_batches; b++) {
    const Batch *batch = &t.batches[b];
    for (k = 0; k < batch->n_packets; k++) {
      size_t size = t.sizes[batch->first + k];
      iov[2 * k].iov_base = payload;
      iov[2 * k].iov_len = RTP_HEADER;
      iov[2 * k + 1].iov_base = payload + RTP_HEADER;
      iov[2 * k + 1].iov_len = size - RTP_HEADER;
      memset (&msgs[k].msg_hdr, 0, sizeof msgs[k].msg_hdr);
      msgs[k].msg_hdr.msg_iov = &iov[2 * k];
      msgs[k].msg_hdr.msg_iovlen = 2;
      msgs[k].msg_hdr.msg_namelen = sizeof (struct sockaddr_in);
    }
    if (all) {
      /* one message per packet per destination, all in one call */
      size_t total = batch->n_packets * (size_t)n_dests;
      for (i = 1; i < n_dests; i++)
        for (k = 0; k < batch->n_packets; k++)
          msgs[i * batch->n_packets + k] = msgs[k];
      for (i = 0; i < n_dests; i++)
        for (k = 0; k < batch->n_packets; k++)
          msgs[i * batch->n_packets + k].msg_hdr.msg_name = &dests[i];
      if (send_all (sender, msgs, total, total, &calls) < 0)
        return 1;
      continue;
    }
    for (i = 0; i < n_dests; i++) {
      for (k = 0; k < batch->n_packets; k++)
        msgs[k].msg_hdr.msg_name = &dests[i];
      if (send_all (sender, msgs, batch->n_packets,
                    single ? 1 : batch->n_packets, &calls)
          < 0)
        return 1;
    }
  }
  getrusage (RUSAGE_SELF, &r1);

  {
    double user = tv_s (r1.ru_utime) - tv_s (r0.ru_utime);
    double sys = tv_s (r1.ru_stime) - tv_s (r0.ru_stime);
    printf ("{\"packets\": %zu, \"batches\": %zu, \"destinations\": %d, "
            "\"mode\": \"%s\", \"calls\": %llu, \"user_s\": %.6f, "
            "\"sys_s\": %.6f, \"us_per_pkt_dest\": %.4f}\n",
            t.n_sizes, t.n_batches, n_dests, argv[3], calls, user, sys,
            (user + sys) * 1e6 / ((double)t.n_sizes * n_dests));
  }
  return 0;
}
