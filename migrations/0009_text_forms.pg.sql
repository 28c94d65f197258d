-- 0009_text_forms, the PostgreSQL form of 0009_text_forms.sql: the six text forms as
-- functions of the database, so that ad-hoc SQL on a fleet store reads as it does on a
-- SQLite store (`ckptdb query "SELECT fd_text(fd, flags), flags_text(flags) FROM
-- open_fds ..."`). 0009_text_forms.sql documents each output; these give the same text
-- as src/store/textForms.ts, which makes ckptdb's own output on both dialects (and the
-- functions SQLite connections have), for every value a column holds: integers and
-- NULL for flags, mode and fd, text for type, family, masks and states. A number that is
-- negative or above 2^53 - 1 gives NULL, as there. They take the types the columns have
-- here, so a text argument where a number goes is an error in PostgreSQL, where SQLite,
-- which has no column types, reads a text of digits as the number.
--
-- Each is IMMUTABLE and PARALLEL SAFE and changes nothing, so `ckptdb query` lets them
-- run. The name lists are written out as in 0009_text_forms.sql.

CREATE FUNCTION flags_text(flags bigint) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
DECLARE
  names constant text[] := ARRAY['O_CREAT', 'O_EXCL', 'O_NOCTTY', 'O_TRUNC', 'O_APPEND', 'O_NONBLOCK', 'O_DSYNC',
    'O_ASYNC', 'O_DIRECT', 'O_LARGEFILE', 'O_DIRECTORY', 'O_NOFOLLOW', 'O_NOATIME', 'O_CLOEXEC', 'O_SYNC', 'O_PATH',
    'O_TMPFILE'];
  -- octal 100, 200, 400, 1000, 2000, 4000, 10000, 20000, 40000, 100000, 200000, 400000,
  -- 1000000, 2000000, 4010000, 10000000, 20200000
  bits constant bigint[] := ARRAY[64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072, 262144,
    524288, 1052672, 2097152, 4259840];
  named boolean[] := array_fill(false, ARRAY[17]);
  rest bigint;
  result text;
  octal text := '';
BEGIN
  IF flags < 0 OR flags > 9007199254740991 THEN RETURN NULL; END IF;
  rest := flags & ~3::bigint;
  -- from the end: O_SYNC and O_TMPFILE hold the bits of O_DSYNC and O_DIRECTORY
  FOR i IN REVERSE 17..1 LOOP
    IF rest & bits[i] = bits[i] THEN
      named[i] := true;
      rest := rest - bits[i];
    END IF;
  END LOOP;
  result := (ARRAY['O_RDONLY', 'O_WRONLY', 'O_RDWR', 'O_ACCMODE'])[(flags & 3) + 1];
  FOR i IN 1..17 LOOP
    IF named[i] THEN result := result || '|' || names[i]; END IF;
  END LOOP;
  IF rest <> 0 THEN
    WHILE rest > 0 LOOP
      octal := (rest % 8)::text || octal;
      rest := rest / 8;
    END LOOP;
    result := result || '|0' || octal;
  END IF;
  RETURN result;
END
$$;

CREATE FUNCTION mode_text(mode bigint) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
  SELECT CASE WHEN mode < 0 OR mode > 9007199254740991 THEN NULL ELSE
    CASE mode & 61440 WHEN 49152 THEN 's' WHEN 40960 THEN 'l' WHEN 32768 THEN '-' WHEN 24576 THEN 'b'
                      WHEN 16384 THEN 'd' WHEN 8192 THEN 'c' WHEN 4096 THEN 'p' ELSE '?' END
    || CASE WHEN mode & 256 <> 0 THEN 'r' ELSE '-' END
    || CASE WHEN mode & 128 <> 0 THEN 'w' ELSE '-' END
    || CASE WHEN mode & 64 <> 0 THEN CASE WHEN mode & 2048 <> 0 THEN 's' ELSE 'x' END
            ELSE CASE WHEN mode & 2048 <> 0 THEN 'S' ELSE '-' END END
    || CASE WHEN mode & 32 <> 0 THEN 'r' ELSE '-' END
    || CASE WHEN mode & 16 <> 0 THEN 'w' ELSE '-' END
    || CASE WHEN mode & 8 <> 0 THEN CASE WHEN mode & 1024 <> 0 THEN 's' ELSE 'x' END
            ELSE CASE WHEN mode & 1024 <> 0 THEN 'S' ELSE '-' END END
    || CASE WHEN mode & 4 <> 0 THEN 'r' ELSE '-' END
    || CASE WHEN mode & 2 <> 0 THEN 'w' ELSE '-' END
    || CASE WHEN mode & 1 <> 0 THEN CASE WHEN mode & 512 <> 0 THEN 't' ELSE 'x' END
            ELSE CASE WHEN mode & 512 <> 0 THEN 'T' ELSE '-' END END
  END
$$;

-- not STRICT: with flags NULL (or not a number) it is the fd's number alone
CREATE FUNCTION fd_text(fd bigint, flags bigint) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT CASE
    WHEN fd IS NULL OR fd < 0 OR fd > 9007199254740991 THEN NULL
    WHEN flags IS NULL OR flags < 0 OR flags > 9007199254740991 THEN fd::text
    -- O_PATH, octal 10000000
    WHEN flags & 2097152 <> 0 THEN fd::text || 'u'
    ELSE fd::text || (ARRAY['r', 'w', 'u', 'u'])[(flags & 3) + 1]
  END
$$;

-- not STRICT: by mode where it is known, else by type; NULL only when both are NULL
CREATE FUNCTION type_text(type text, mode bigint, family text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT CASE
    WHEN m IS NULL AND type IS NULL THEN NULL
    WHEN (m IS NOT NULL AND m & 61440 = 49152) OR (m IS NULL AND type = 'socket') THEN
      CASE family WHEN 'unix' THEN 'unix' WHEN 'inet' THEN 'IPv4' WHEN 'inet6' THEN 'IPv6'
                  WHEN 'netlink' THEN 'netlink' WHEN 'packet' THEN 'pack' ELSE 'sock' END
    WHEN m IS NOT NULL THEN
      CASE m & 61440 WHEN 32768 THEN 'REG' WHEN 16384 THEN 'DIR' WHEN 8192 THEN 'CHR' WHEN 24576 THEN 'BLK'
                     WHEN 4096 THEN 'FIFO' WHEN 40960 THEN 'LINK' WHEN 0 THEN 'a_inode' ELSE 'unknown' END
    ELSE
      CASE type WHEN 'reg' THEN 'REG' WHEN 'memfd' THEN 'REG' WHEN 'dir' THEN 'DIR' WHEN 'chr' THEN 'CHR'
                WHEN 'blk' THEN 'BLK' WHEN 'fifo' THEN 'FIFO' WHEN 'pipe' THEN 'FIFO'
                WHEN 'eventfd' THEN 'a_inode' WHEN 'epoll' THEN 'a_inode' WHEN 'timerfd' THEN 'a_inode'
                WHEN 'signalfd' THEN 'a_inode' WHEN 'inotify' THEN 'a_inode' WHEN 'fanotify' THEN 'a_inode'
                WHEN 'anon' THEN 'a_inode' ELSE 'unknown' END
  END
  FROM (SELECT CASE WHEN mode < 0 OR mode > 9007199254740991 THEN NULL ELSE mode END AS m) AS known
$$;

CREATE FUNCTION signals_text(mask text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
  SELECT CASE WHEN mask !~ '^[0-9a-fA-F]{1,16}$' THEN NULL ELSE (
    SELECT coalesce(string_agg(
             CASE WHEN n <= 31 THEN (ARRAY['SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGILL', 'SIGTRAP', 'SIGABRT', 'SIGBUS',
                      'SIGFPE', 'SIGKILL', 'SIGUSR1', 'SIGSEGV', 'SIGUSR2', 'SIGPIPE', 'SIGALRM', 'SIGTERM',
                      'SIGSTKFLT', 'SIGCHLD', 'SIGCONT', 'SIGSTOP', 'SIGTSTP', 'SIGTTIN', 'SIGTTOU', 'SIGURG',
                      'SIGXCPU', 'SIGXFSZ', 'SIGVTALRM', 'SIGPROF', 'SIGWINCH', 'SIGIO', 'SIGPWR', 'SIGSYS'])[n]
                  WHEN n < 34 THEN 'SIG' || n
                  WHEN n = 34 THEN 'SIGRTMIN'
                  WHEN n <= 49 THEN 'SIGRTMIN+' || (n - 34)
                  WHEN n = 64 THEN 'SIGRTMAX'
                  ELSE 'SIGRTMAX-' || (64 - n) END,
             ',' ORDER BY n), '')
    -- bit n - 1 of the mask for signal n; get_bit counts from the left of the 64 bits
    FROM generate_series(1, 64) AS n
    WHERE get_bit(('x' || lpad(mask, 16, '0'))::bit(64), 64 - n) = 1
  ) END
$$;

CREATE FUNCTION state_text(state text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
  SELECT CASE state WHEN 'R' THEN 'running' WHEN 'S' THEN 'sleeping' WHEN 'D' THEN 'disk sleep'
                    WHEN 'T' THEN 'stopped' WHEN 't' THEN 'tracing stop' WHEN 'X' THEN 'dead'
                    WHEN 'Z' THEN 'zombie' WHEN 'P' THEN 'parked' WHEN 'I' THEN 'idle' ELSE state END
$$;
