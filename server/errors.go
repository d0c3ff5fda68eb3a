package server

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"rafka/producer"
)

// The codes of error replies: the first word of the reply, which clients
// and the error statistics go by.
const (
	codeErr       = "ERR"
	codeCons      = "CONS"
	codeProd      = "PROD"
	codeNoProto   = "NOPROTO"
	codeWrongPass = "WRONGPASS"
	codeNoAuth    = "NOAUTH"
	codeNoPerm    = "NOPERM"
)

// replyError is an error sent to the client as its reply: code is the
// Redis-style code (ERR, CONS, PROD, NOPROTO, ...), msg the text after it.
type replyError struct{ code, msg string }

func (e *replyError) Error() string { return e.code + " " + e.msg }

// replyErr makes a replyError of the code with a formatted message.
func replyErr(code, format string, args ...any) error {
	return &replyError{code: code, msg: fmt.Sprintf(format, args...)}
}

func consErr(format string, args ...any) error { return replyErr(codeCons, format, args...) }
func prodErr(format string, args ...any) error { return replyErr(codeProd, format, args...) }
func errf(format string, args ...any) error    { return replyErr(codeErr, format, args...) }

// asReply is err as a reply: a replyError as it is, any other error as an
// ERR reply of its text.
func asReply(err error) error {
	if re, ok := errors.AsType[*replyError](err); ok {
		return re
	}
	return errf("%s", err)
}

// The client-visible error texts of protocol.md section 7, and the other
// fixed texts. Clients match some of them literally: do not reword.
var (
	errServerShutdown = consErr("Server shutdown")
	errNotReady       = consErr("Connection not ready. Identify yourself using `CLIENT SETNAME` first")
	errOnlyAcks       = consErr("You can only RPUSH to the 'acks' key")
	errParseGroup     = consErr("Cannot parse group.id")
	errTopicKeyShape  = prodErr("First argument must be in the form of 'topics:<topic>' or 'topics:<topic>:<key>'")
	errNaN            = prodErr("NaN")
	errTimeout        = errf("timeout is not a float or out of range")
	errSyntax         = errf("syntax error")
	errNotInteger     = errf("value is not an integer or out of range")
	errDBIndex        = errf("DB index is out of range")
	errNoProto        = &replyError{code: codeNoProto, msg: "unsupported protocol version"}
	errNoPassword     = errf("AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
	errWrongPass      = &replyError{code: codeWrongPass, msg: "invalid username-password pair or user is disabled."}
	errMaxClients     = errf("max number of clients reached")
	errNoAuth         = &replyError{code: codeNoAuth, msg: "Authentication required."}
	errHelloNoAuth    = &replyError{code: codeNoAuth, msg: "HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"}
	errInternal       = errf("internal error")
	errRangeTooBig    = errf("the entries of this range take more than %d MiB: give a smaller COUNT", maxStreamReadBytes>>20)
	errMixedKeys      = consErr("A blocking pop takes either 'topics:' keys or topic keys, not both")

	// MULTI/EXEC, with Redis's texts where Redis has them.
	errNestedMulti         = errf("MULTI calls can not be nested")
	errExecWithoutMulti    = errf("EXEC without MULTI")
	errDiscardWithoutMulti = errf("DISCARD without MULTI")
	errExecAbort           = &replyError{code: "EXECABORT", msg: "Transaction discarded because of previous errors."}
	errWatchInMulti        = errf("WATCH inside MULTI is not allowed")
	errWatchUnsupported    = errf("WATCH is not supported: a MULTI/EXEC is a Kafka transaction, which needs no watched keys")
	errNotInTxn            = errf("Command not allowed inside a transaction")
	errConsumeInTxn        = consErr("Consume commands are not allowed inside MULTI")
	errNoTransactions      = prodErr("Transactions are not available on this server")

	// Streams.
	errXAddID       = errf("XADD takes only * as the ID here: Kafka assigns the offset the ID is made of")
	errXAddNULField = errf("XADD field names cannot hold a NUL byte here: they become Kafka header keys, which librdkafka cuts at a NUL")
	errExactTrim    = errf("exact trimming is not supported: Kafka's retention trims the topic, so only MAXLEN ~ and MINID ~ (accepted, no effect) are")
	errMonitorMode  = errf("only PING and QUIT are allowed in MONITOR mode")
)

// clip shortens client input echoed in an error reply to n bytes, as Redis
// does: a reply must not carry megabytes the client sent.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func errInvalidTopic(err error) error { return prodErr("Invalid topic: %v", err) }
func errCannotParseTopics(arg string) error {
	return consErr("Cannot parse topics from `%s`", clip(arg, 256))
}

func errConfigParse(json string, err error) error {
	return consErr("Error parsing configuration from '%s'; %s", clip(json, 1024), err)
}

func errConsumerRegistered(id, cid, newCID string) error {
	return consErr("Client '%s' has Consumer '%s' registered (new consID: '%s')", id, cid, newCID)
}

func errConsumerCreate(err error) error { return consErr("Failed to create consumer: %s", err) }
func errPoll(err error) error           { return consErr("Poll %s", err) }
func errCannotParseAck(v string) error  { return consErr("Cannot parse ack: '%s'", clip(v, 256)) }
func errNoConsumer(id string) error     { return consErr("No consumer registered for Client %s", id) }
func errIDTaken(id string) error        { return consErr("id %s is already taken", id) }
func errIDAlreadySet(id string) error   { return consErr("Client ID is already set to %s", id) }
func errRPUSHXArgs(n int) error         { return prodErr("RPUSHX accepts 2 arguments, got %d", n) }
func errSpawnProducer(err error) error  { return prodErr("Error spawning producer: %s", err) }
func errProduce(err error) error {
	if ce, ok := errors.AsType[*producer.CreateError](err); ok {
		return errSpawnProducer(ce.Err)
	}
	return prodErr("%s", err)
}
func errDumpArgs(n int) error { return prodErr("DUMP accepts 1 argument, got %d", n) }
func errExpectedStats(key string) error {
	return errf("Expected key to be 'stats', got %s", clip(key, 256))
}
func errExpectedTopics(arg string) error {
	return errf("Expected argument to be 'topics:', got %s", clip(arg, 256))
}

func errTooManyLogins(retry time.Duration) error {
	return errf("too many failed logins from this address; retry in %d ms", max(retry.Milliseconds(), 1))
}

func errNotAssigned(topic string, partition int32) error {
	return consErr("Partition %s:%d is not assigned to this consumer", topic, partition)
}

func errWrongArgs(name string) error {
	return errf("wrong number of arguments for '%s' command", strings.ToLower(name))
}

func errNoPerm(user, action, what string) error {
	return replyErr(codeNoPerm, "User %s has no permissions to %s '%s'", user, action, what)
}

func errTxnTooLarge(commands, reads int, bytes, messages int64) error {
	return errf("transaction too large: at most %d commands (%d of them not produce commands), %d bytes and %d messages",
		commands, reads, bytes, messages)
}

func errUnknownSubcommand(sub string) error { return errf("unknown subcommand '%s'", sub) }

// errUnknownCommand is Redis's own text; some clients look for "unknown"
// (for example to fall back from HELLO).
func errUnknownCommand(name string, args [][]byte) error {
	var b strings.Builder
	// As Redis: the name and arguments are the client's, of any size.
	fmt.Fprintf(&b, "unknown command '%s', with args beginning with: ", clip(name, 128))
	for _, a := range args {
		if b.Len() > 512 {
			break
		}
		fmt.Fprintf(&b, "'%s' ", clip(string(a), 128))
	}
	return errf("%s", b.String())
}
