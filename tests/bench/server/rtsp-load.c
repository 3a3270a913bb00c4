/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* A light RTSP load client for the server benchmark: N sessions in one
 * process and one thread (epoll), so that 200 clients fit beside the server
 * on a 2-core machine (200 ffmpeg clients need ~3 cores by themselves).
 * Each session does DESCRIBE, SETUP (UDP unicast or TCP interleaved) and
 * PLAY on the first stream, then only counts RTP packets: a frame is a
 * packet with the marker bit, and the frames expected in a window are the
 * RTP timestamp span / (90000 / FPS) + 1, as the server tests count them.
 *
 *   rtsp-load HOST PORT PATH N udp|tcp SECONDS [FPS [START_SECONDS]]
 *
 * Sessions are started one after the other, all within START_SECONDS (120
 * by default; each request waits at most what is left of it, at most 30 s):
 * a server that stops answering fails the sessions left instead of holding
 * the run. Prints "ready N" once the sessions that could start play (and
 * "failed K" for those that did not), then, after SECONDS of counting, one line
 * per session: "client I frames F expected E packets P lost L" (L: packets
 * missing by their sequence numbers).
 */

#define _GNU_SOURCE /* strcasestr, memmem, recvmmsg */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

typedef struct {
  int rtsp;           /* TCP control connection (and data when interleaved) */
  int rtp;            /* UDP RTP socket, or -1 */
  int rtcp;           /* UDP RTCP socket (bound, never read), or -1 */
  int ok;             /* playing */
  unsigned char *buf; /* interleaved input */
  size_t len;
  /* counting */
  int counting;
  int have_ts;
  uint32_t first_ts, last_ts;
  uint64_t wraps, frames, packets;
  /* sequence numbers: the packets missing between those received */
  int have_seq;
  uint16_t last_seq;
  uint64_t lost;
} Session;

#define BUF_SIZE (256 * 1024)

static double
now_s (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Sends @req and reads one response (headers and Content-Length body) into
 * @out. Returns the status code, or -1. */
static int
request (int fd, const char *req, char *out, size_t out_size)
{
  size_t len = strlen (req), got = 0;
  char *end;
  int status = -1;
  long clen = 0;
  char *cl;

  if (send (fd, req, len, MSG_NOSIGNAL) != (ssize_t)len)
    return -1;
  for (;;) {
    ssize_t n = recv (fd, out + got, out_size - 1 - got, 0);
    if (n <= 0)
      return -1;
    got += (size_t)n;
    out[got] = '\0';
    end = strstr (out, "\r\n\r\n");
    if (!end)
      continue;
    cl = strcasestr (out, "Content-Length:");
    clen = cl && cl < end ? strtol (cl + 15, NULL, 10) : 0;
    if ((long)(got - (size_t)(end + 4 - out)) >= clen)
      break;
  }
  if (sscanf (out, "RTSP/1.0 %d", &status) != 1)
    return -1;
  return status;
}

static int
bind_udp (int *port)
{
  struct sockaddr_in a;
  socklen_t al = sizeof (a);
  int fd = socket (AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  int rcv = 1 << 20;

  memset (&a, 0, sizeof (a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  a.sin_port = htons ((uint16_t)*port);
  if (fd < 0 || bind (fd, (struct sockaddr *)&a, sizeof (a)) < 0) {
    if (fd >= 0)
      close (fd);
    return -1;
  }
  setsockopt (fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof (rcv));
  getsockname (fd, (struct sockaddr *)&a, &al);
  *port = ntohs (a.sin_port);
  return fd;
}

/* An even/odd UDP port pair for RTP/RTCP. */
static int
bind_pair (Session *s, int *port)
{
  int tries;
  for (tries = 0; tries < 100; tries++) {
    int p = 0, q;
    int fd = bind_udp (&p);
    if (fd < 0)
      return -1;
    if (p % 2) {
      close (fd);
      continue;
    }
    q = p + 1;
    s->rtcp = bind_udp (&q);
    if (s->rtcp < 0) {
      close (fd);
      continue;
    }
    s->rtp = fd;
    *port = p;
    return 0;
  }
  return -1;
}

static int
start_session (Session *s, const char *host, int port, const char *path,
               int tcp, double timeout)
{
  static char resp[65536];
  char req[1024], url[512], session[256] = "", *p;
  struct sockaddr_in a;
  struct timeval tv;
  int one = 1, st, cport = 0;

  if (timeout > 30.0)
    timeout = 30.0;
  tv.tv_sec = (time_t)timeout;
  tv.tv_usec = (suseconds_t)((timeout - (double)tv.tv_sec) * 1e6);
  if (tv.tv_sec == 0 && tv.tv_usec < 1000)
    tv.tv_usec = 1000;

  s->rtp = s->rtcp = -1;
  s->rtsp = socket (AF_INET, SOCK_STREAM, 0);
  memset (&a, 0, sizeof (a));
  a.sin_family = AF_INET;
  a.sin_port = htons ((uint16_t)port);
  inet_pton (AF_INET, host, &a.sin_addr);
  setsockopt (s->rtsp, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof (tv));
  /* (bounds connect () and a send into a full buffer too) */
  setsockopt (s->rtsp, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof (tv));
  setsockopt (s->rtsp, IPPROTO_TCP, TCP_NODELAY, &one, sizeof (one));
  if (connect (s->rtsp, (struct sockaddr *)&a, sizeof (a)) < 0)
    return -1;
  snprintf (url, sizeof (url), "rtsp://%s:%d%s", host, port, path);
  snprintf (req, sizeof (req),
            "DESCRIBE %s RTSP/1.0\r\nCSeq: 1\r\nAccept: application/sdp\r\n"
            "User-Agent: rtsp-load\r\n\r\n",
            url);
  if (request (s->rtsp, req, resp, sizeof (resp)) != 200)
    return -1;
  if (!tcp && bind_pair (s, &cport) < 0)
    return -1;
  if (tcp)
    snprintf (req, sizeof (req),
              "SETUP %s/stream=0 RTSP/1.0\r\nCSeq: 2\r\n"
              "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n",
              url);
  else
    snprintf (req, sizeof (req),
              "SETUP %s/stream=0 RTSP/1.0\r\nCSeq: 2\r\n"
              "Transport: RTP/AVP;unicast;client_port=%d-%d\r\n\r\n",
              url, cport, cport + 1);
  if (request (s->rtsp, req, resp, sizeof (resp)) != 200)
    return -1;
  p = strcasestr (resp, "\nSession:");
  if (!p || sscanf (p + 9, " %255[^;\r\n]", session) != 1)
    return -1;
  snprintf (req, sizeof (req),
            "PLAY %s RTSP/1.0\r\nCSeq: 3\r\nSession: %s\r\nRange: npt=0-\r\n"
            "\r\n",
            url, session);
  st = request (s->rtsp, req, resp, sizeof (resp));
  if (st != 200)
    return -1;
  /* data after the PLAY reply (interleaved) is lost here: counting starts
   * later anyway */
  s->buf = malloc (BUF_SIZE);
  s->len = 0;
  return 0;
}

static void
count_rtp (Session *s, const unsigned char *p, size_t n)
{
  uint32_t ts;
  if (n < 12 || (p[0] >> 6) != 2)
    return;
  if (!s->counting)
    return;
  s->packets++;
  {
    uint16_t seq = (uint16_t)((p[2] << 8) | p[3]);
    uint16_t gap = (uint16_t)(seq - s->last_seq);
    /* a step forward of less than 3000: the ones between were lost; a
     * resync (a lapped client resumes elsewhere) counts nothing */
    if (s->have_seq && gap > 1 && gap < 3000)
      s->lost += gap - 1u;
    if (!s->have_seq || (gap > 0 && gap < 3000))
      s->last_seq = seq;
    s->have_seq = 1;
  }
  ts = ((uint32_t)p[4] << 24) | ((uint32_t)p[5] << 16) | ((uint32_t)p[6] << 8)
       | p[7];
  if (!s->have_ts) {
    s->have_ts = 1;
    s->first_ts = s->last_ts = ts;
  } else {
    if (ts < s->last_ts && s->last_ts - ts > 0x80000000u)
      s->wraps++;
    if (ts - s->last_ts < 0x80000000u)
      s->last_ts = ts;
  }
  if (p[1] & 0x80)
    s->frames++;
}

static void
read_tcp (Session *s)
{
  for (;;) {
    ssize_t n
        = recv (s->rtsp, s->buf + s->len, BUF_SIZE - s->len, MSG_DONTWAIT);
    size_t off = 0;
    if (n <= 0)
      return;
    s->len += (size_t)n;
    while (s->len - off >= 4) {
      unsigned char *q = s->buf + off;
      size_t plen;
      if (q[0] != '$') {
        /* an RTSP message (keep-alive reply): skip to its end */
        unsigned char *e = memmem (q, s->len - off, "\r\n\r\n", 4);
        if (!e)
          break;
        off = (size_t)(e + 4 - s->buf);
        continue;
      }
      plen = ((size_t)q[2] << 8) | q[3];
      if (s->len - off < 4 + plen)
        break;
      if (q[1] == 0)
        count_rtp (s, q + 4, plen);
      off += 4 + plen;
    }
    memmove (s->buf, s->buf + off, s->len - off);
    s->len -= off;
  }
}

static void
read_udp (Session *s)
{
  static unsigned char pkt[64][2048];
  struct mmsghdr msgs[64];
  struct iovec iov[64];
  int i, n;
  for (;;) {
    memset (msgs, 0, sizeof (msgs));
    for (i = 0; i < 64; i++) {
      iov[i].iov_base = pkt[i];
      iov[i].iov_len = sizeof (pkt[i]);
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    n = recvmmsg (s->rtp, msgs, 64, MSG_DONTWAIT, NULL);
    if (n <= 0)
      return;
    for (i = 0; i < n; i++)
      count_rtp (s, pkt[i], msgs[i].msg_len);
  }
}

int
main (int argc, char **argv)
{
  const char *host, *path;
  int port, n, tcp, i, ep, failed = 0, fps;
  double secs, end, start_secs, start_deadline;
  Session *ss;
  struct epoll_event ev, evs[256];

  if (argc < 7) {
    fprintf (stderr, "usage: rtsp-load HOST PORT PATH N udp|tcp SECONDS "
                     "[FPS [START_SECONDS]]\n");
    return 2;
  }
  host = argv[1];
  port = atoi (argv[2]);
  path = argv[3];
  n = atoi (argv[4]);
  tcp = strcmp (argv[5], "tcp") == 0;
  secs = atof (argv[6]);
  fps = argc > 7 ? atoi (argv[7]) : 30;
  start_secs = argc > 8 ? atof (argv[8]) : 120.0;
  if (port <= 0 || n <= 0 || secs <= 0 || fps <= 0 || start_secs <= 0) {
    fprintf (stderr, "rtsp-load: bad arguments\n");
    return 2;
  }
  ss = calloc ((size_t)n, sizeof (Session));
  ep = epoll_create1 (0);
  start_deadline = now_s () + start_secs;
  for (i = 0; i < n; i++) {
    double left = start_deadline - now_s ();
    ss[i].rtsp = ss[i].rtp = ss[i].rtcp = -1;
    if (left <= 0 || start_session (&ss[i], host, port, path, tcp, left) < 0) {
      failed++;
      continue;
    }
    ss[i].ok = 1;
    ev.events = EPOLLIN;
    ev.data.u32 = (uint32_t)i;
    /* UDP: the control connection stays open and is never read */
    epoll_ctl (ep, EPOLL_CTL_ADD, tcp ? ss[i].rtsp : ss[i].rtp, &ev);
  }
  printf ("ready %d\n", n - failed);
  if (failed)
    printf ("failed %d\n", failed);
  fflush (stdout);

  /* settle one second (drain what PLAY queued), then count */
  for (i = 0; i < 2; i++) {
    double phase_end = now_s () + (i == 0 ? 1.0 : secs);
    int k;
    if (i == 1)
      for (k = 0; k < n; k++)
        ss[k].counting = 1;
    while ((end = phase_end - now_s ()) > 0) {
      int m = epoll_wait (ep, evs, 256, (int)(end * 1000) + 1);
      int j;
      for (j = 0; j < m; j++) {
        Session *s = &ss[evs[j].data.u32];
        if (tcp)
          read_tcp (s);
        else
          read_udp (s);
      }
    }
  }
  for (i = 0; i < n; i++) {
    Session *s = &ss[i];
    uint64_t expected = 0;
    if (s->have_ts) {
      uint64_t span = s->wraps * 0x100000000ull + s->last_ts - s->first_ts;
      expected = span / (90000u / (unsigned)fps) + 1;
    }
    printf ("client %d frames %llu expected %llu packets %llu lost %llu%s\n", i,
            (unsigned long long)s->frames, (unsigned long long)expected,
            (unsigned long long)s->packets, (unsigned long long)s->lost,
            s->ok ? "" : " failed");
  }
  fflush (stdout);
  for (i = 0; i < n; i++) {
    if (ss[i].rtsp >= 0)
      close (ss[i].rtsp);
    if (ss[i].rtp >= 0)
      close (ss[i].rtp);
    if (ss[i].rtcp >= 0)
      close (ss[i].rtcp);
    free (ss[i].buf);
  }
  free (ss);
  close (ep);
  return 0;
}
