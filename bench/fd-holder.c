/*
 * fd-holder N FDS DIR [mixed|inherited]: the process tree of `npm run bench -- capture`.
 * Starts N processes (its children) that each hold FDS fds of many kinds, then waits.
 * Prints "ready" on stdout once every child holds its fds; the caller kills the
 * process group.
 *
 * inherited: this parent opens FDS fds of the kinds below and every child inherits
 * them all: each open file is shared N + 1 ways.
 * mixed (default): per child, with FDS = 100:
 *   3   stdio, inherited from the caller; 1 the write end of the ready pipe
 *   20  inherited from this parent: 10 regular files and 5 pipes (shared by every child)
 *   20  10 pipes of its own, both ends
 *   12  6 socketpairs of its own, both ends
 *   1   a TCP socket listening on 127.0.0.1
 *   10  the same 10 regular files as every other child, opened independently
 *   5   /dev/null, opened independently
 *   5   dup()s of its own files
 *   10  eventfd x5, epoll x2, timerfd x2, signalfd (inotify instances are limited to 128 per user)
 *   rest regular files of its own
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

static int opened;

static void must(int ok, const char *what) {
  if (!ok) {
    perror(what);
    exit(1);
  }
}

static void count(int fd, const char *what) {
  must(fd >= 0, what);
  opened++;
}

static void open_file(const char *dir, const char *name, int flags) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  count(open(path, flags | O_CREAT, 0600), path);
}

/* The fds this process holds now. */
static int open_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  must(d != NULL, "/proc/self/fd");
  int n = -1; /* the directory's own fd */
  for (struct dirent *e; (e = readdir(d));) n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

/* Opens fds of every kind until this process holds FDS; index names its own files. */
static void opens(const char *dir, int index, int fds) {
  char name[64];
  int own_first = -1;
  for (int i = 0; i < 10; i++) {
    int p[2];
    must(pipe(p) == 0, "pipe");
    opened += 2;
  }
  for (int i = 0; i < 6; i++) {
    int s[2];
    must(socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0, "socketpair");
    opened += 2;
  }
  int l = socket(AF_INET, SOCK_STREAM, 0);
  count(l, "socket");
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  must(bind(l, (struct sockaddr *)&a, sizeof a) == 0 && listen(l, 4) == 0, "listen");
  for (int i = 0; i < 10; i++) {
    snprintf(name, sizeof name, "shared-%d", i);
    open_file(dir, name, O_RDONLY);
  }
  for (int i = 0; i < 5; i++) count(open("/dev/null", O_RDWR), "/dev/null");
  for (int i = 0; i < 5; i++) count(eventfd(i, 0), "eventfd");
  for (int i = 0; i < 2; i++) count(epoll_create1(0), "epoll");
  for (int i = 0; i < 2; i++) count(timerfd_create(CLOCK_MONOTONIC, 0), "timerfd");
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGUSR1);
  count(signalfd(-1, &mask, 0), "signalfd");
  opened = open_fds();
  for (int i = 0; opened < fds - 5; i++) {
    snprintf(name, sizeof name, "own-%d-%d", index, i);
    int before = opened;
    open_file(dir, name, O_RDWR);
    if (own_first < 0) own_first = before;
  }
  for (int i = 0; i < 5 && own_first >= 0; i++) count(dup(own_first), "dup");
}

int main(int argc, char **argv) {
  if (argc < 4 || argc > 5) {
    fprintf(stderr, "usage: fd-holder PROCESSES FDS DIR [mixed|inherited]\n");
    return 2;
  }
  int n = atoi(argv[1]), fds = atoi(argv[2]);
  const char *dir = argv[3];
  int inherited = argc == 5 && strcmp(argv[4], "inherited") == 0;
  char name[64];
  for (int i = 0; i < 10; i++) {
    snprintf(name, sizeof name, "shared-%d", i);
    open_file(dir, name, O_RDWR);
  }
  for (int i = 0; i < 5; i++) {
    int p[2];
    must(pipe(p) == 0, "pipe");
    opened += 2;
  }
  int ready[2];
  must(pipe(ready) == 0, "pipe");
  if (inherited) opens(dir, -1, fds);
  for (int i = 0; i < n; i++) {
    pid_t pid = fork();
    must(pid >= 0, "fork");
    if (pid == 0) {
      close(ready[0]);
      if (!inherited) opens(dir, i, fds);
      must(write(ready[1], "x", 1) == 1, "ready");
      for (;;) pause();
    }
  }
  close(ready[1]);
  char c;
  for (int i = 0; i < n; i++) must(read(ready[0], &c, 1) == 1, "wait for children");
  printf("ready\n");
  fflush(stdout);
  for (;;) pause();
}
