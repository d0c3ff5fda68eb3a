package server

import (
	"crypto/sha1"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"rafka/locks"
)

// rafka runs no Lua. EVAL, EVALSHA and SCRIPT know three scripts by the
// SHA1 of their exact text, redis-py's Lock scripts (redis/lock.py and
// redis/asyncio/lock.py, redis-py 8.1), and run each natively on the lock
// keys; any other script is refused.

// lockScript is one recognized script: its name, its KEYS and ARGV counts,
// and what it does.
type lockScript struct {
	name string
	args int // ARGV count; KEYS is always one, the lock's name
	run  func(s *Server, c *client, key string, argv [][]byte) (int, error)
}

// lockScripts maps the lower-case SHA1 hex of each recognized script's
// text to it.
var lockScripts = map[string]lockScript{
	// LUA_RELEASE_SCRIPT: delete KEYS[1] if it holds the token ARGV[1].
	"c3f8721cbb97f72bc19e972846bd7aaf91901658": {name: "release", args: 1, run: runRelease},
	// LUA_EXTEND_SCRIPT: if KEYS[1] holds ARGV[1] and expires, add ARGV[2]
	// ms to its time to live (ARGV[3] "0") or set it to ARGV[2] ms.
	"a4e8783852e6b949f9ef3a97212805108459a890": {name: "extend", args: 3, run: runExtend},
	// LUA_REACQUIRE_SCRIPT: if KEYS[1] holds ARGV[1], set its time to
	// live to ARGV[2] ms.
	"1cac51482acf5858da00f6d685d68f886cd6b6b2": {name: "reacquire", args: 2, run: runReacquire},
}

var (
	errNoLua    = errf("rafka runs no Lua: EVAL, EVALSHA and SCRIPT LOAD take only redis-py's Lock scripts (release, extend, reacquire)")
	errNoScript = &replyError{code: "NOSCRIPT", msg: "No matching script. Please use EVAL."}
	errNotBusy  = &replyError{code: "NOTBUSY", msg: "No scripts in execution right now."}
	errNumKeys  = errf("Number of keys can't be greater than number of args")
	errNegKeys  = errf("Number of keys can't be negative")
)

func scriptSHA(script []byte) string {
	sum := sha1.Sum(script)
	return hex.EncodeToString(sum[:])
}

// EVAL script numkeys key [key ...] arg [arg ...]
func cmdEval(s *Server, c *client, args [][]byte) error {
	script, ok := lockScripts[scriptSHA(args[1])]
	if !ok {
		return errNoLua
	}
	return runScript(s, c, script, args[2:])
}

// EVALSHA sha1 numkeys key [key ...] arg [arg ...]
func cmdEvalSHA(s *Server, c *client, args [][]byte) error {
	script, ok := lockScripts[strings.ToLower(string(args[1]))]
	if !ok {
		return errNoScript
	}
	return runScript(s, c, script, args[2:])
}

// runScript checks numkeys and the KEYS and ARGV counts, then runs script.
func runScript(s *Server, c *client, script lockScript, args [][]byte) error {
	numKeys, err := strconv.ParseInt(string(args[0]), 10, 64)
	switch {
	case err != nil:
		return errNotInteger
	case numKeys < 0:
		return errNegKeys
	case numKeys > int64(len(args)-1):
		return errNumKeys
	case numKeys != 1 || len(args)-2 != script.args:
		return errf("redis-py's Lock %s script takes 1 key and %d arguments", script.name, script.args)
	}
	n, err := script.run(s, c, string(args[1]), args[2:])
	if err != nil {
		return err
	}
	c.conn.WriteInt(n)
	return nil
}

func runRelease(s *Server, c *client, key string, argv [][]byte) (int, error) {
	return b2i(s.locks.Release(c.lockSpace(), key, argv[0])), nil
}

func runExtend(s *Server, c *client, key string, argv [][]byte) (int, error) {
	ttl, err := scriptMillis(argv[1])
	if err != nil {
		return 0, err
	}
	replace := string(argv[2]) != "0"
	return b2i(s.locks.Extend(c.lockSpace(), key, argv[0], ttl, replace)), nil
}

func runReacquire(s *Server, c *client, key string, argv [][]byte) (int, error) {
	ttl, err := scriptMillis(argv[1])
	if err != nil {
		return 0, err
	}
	return b2i(s.locks.Expire(c.lockSpace(), key, argv[0], ttl)), nil
}

// maxScriptMillis bounds a script's milliseconds: locks.MaxTTL.
const maxScriptMillis = int64(locks.MaxTTL / time.Millisecond)

// scriptMillis reads a script's milliseconds argument, as PEXPIRE would.
func scriptMillis(arg []byte) (time.Duration, error) {
	n, err := strconv.ParseInt(string(arg), 10, 64)
	if err != nil || n > maxScriptMillis || n < -maxScriptMillis {
		return 0, errNotInteger
	}
	return time.Duration(n) * time.Millisecond, nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// SCRIPT EXISTS sha1 [sha1 ...] | LOAD script | FLUSH [ASYNC|SYNC] | KILL:
// the recognized scripts are always loaded; LOAD of any other is refused.
func cmdScript(s *Server, c *client, args [][]byte) error {
	sub := strings.ToLower(string(args[1]))
	switch {
	case sub == "exists" && len(args) > 2:
		c.conn.WriteArray(len(args) - 2)
		for _, sha := range args[2:] {
			_, ok := lockScripts[strings.ToLower(string(sha))]
			c.conn.WriteInt(b2i(ok))
		}
	case sub == "load" && len(args) == 3:
		sha := scriptSHA(args[2])
		if _, ok := lockScripts[sha]; !ok {
			return errNoLua
		}
		c.conn.WriteBulkString(sha)
	case sub == "flush":
		if len(args) > 3 || len(args) == 3 && !strings.EqualFold(string(args[2]), "async") && !strings.EqualFold(string(args[2]), "sync") {
			return errf("SCRIPT FLUSH only support SYNC|ASYNC option")
		}
		c.conn.WriteString("OK")
	case sub == "kill" && len(args) == 2:
		return errNotBusy
	case sub == "exists" || sub == "load" || sub == "kill":
		return errf("wrong number of arguments for 'script|%s' command", sub)
	default:
		return errUnknownSubcommand(clip(string(args[1]), 64))
	}
	return nil
}
