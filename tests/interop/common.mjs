// What peer.mjs and dpt_peer.mjs share: reporting one JSON object per line
// on stdout, ending the process exactly once with a final `exit` line,
// command-line flag parsing with usage errors, and the process-wide
// handlers (uncaught errors are fatal, SIGINT/SIGTERM end the run, a
// --timeout backstop). See README.md for each script's flags and events.
//
// Exit codes: 0 normal, 1 fatal error, 2 bad usage.

import { hexToBytes } from '@ethereumjs/util'

// ---------------------------------------------------------------- output

let exiting = false
let exitHooks = { beforeExitLine: () => {}, afterExitLine: () => {} }
let usage = { script: 'node', text: '' }

// Prints `obj` as one line of JSON on stdout.
export function emit(obj) {
  process.stdout.write(`${JSON.stringify(obj)}\n`)
}

export function errorMessage(err) {
  if (err instanceof Error) return err.message
  return String(err)
}

// Script-specific steps of exit(): beforeExitLine(code) may still emit
// lines; afterExitLine() releases resources. Both run at most once.
export function setExitHooks({ beforeExitLine, afterExitLine }) {
  exitHooks = {
    beforeExitLine: beforeExitLine ?? (() => {}),
    afterExitLine: afterExitLine ?? (() => {}),
  }
}

// Ends the process once (later calls are ignored): emits {event: 'exit',
// why, code} last, then exits with `code` when stdout has drained, or after
// 1 s at the latest.
export function exit(code, why) {
  if (exiting) return
  exiting = true
  // Also the status if the process ends by itself before the exit below.
  process.exitCode = code
  exitHooks.beforeExitLine(code)
  emit({ event: 'exit', why, code })
  try {
    exitHooks.afterExitLine()
  } catch {
    // Nothing left to report to.
  }
  setTimeout(() => process.exit(code), 1000).unref()
  process.stdout.write('', () => process.exit(code))
}

// ----------------------------------------------------------------- flags

// Bad usage: the message and the usage text on stderr, an `error` line on
// stdout, exit status 2 at once (no `exit` line).
export function usageError(message) {
  process.stderr.write(`${usage.script}: ${message}\n${usage.text}`)
  emit({ event: 'error', message })
  exiting = true
  process.exit(2)
}

// Walks `argv` ("--flag value" or "--flag=value"). --help/-h prints
// `usageText` and exits 0; a name in `switches` takes no value and calls
// switches[name](); a name in `flags` calls flags[name](value); any other
// flag, a missing value or a value given to a switch is a usage error.
export function parseFlags(argv, { script, usageText, switches, flags }) {
  usage = { script, text: usageText }
  for (let i = 0; i < argv.length; i++) {
    let flag = argv[i]
    let value = null
    const eq = flag.indexOf('=')
    if (flag.startsWith('--') && eq > 0) {
      value = flag.slice(eq + 1)
      flag = flag.slice(0, eq)
    }
    if (flag === '--help' || flag === '-h') {
      process.stdout.write(usageText)
      process.exit(0)
    }
    if (Object.hasOwn(switches, flag)) {
      if (value !== null) usageError(`${flag} takes no value`)
      switches[flag]()
      continue
    }
    if (!Object.hasOwn(flags, flag)) usageError(`unknown flag ${JSON.stringify(flag)}`)
    if (value === null) {
      if (i + 1 >= argv.length) usageError(`${flag} needs a value`)
      value = argv[++i]
    }
    flags[flag](value)
  }
}

// Handlers for the flags both scripts take, for parseFlags: --key HEX (sets
// opts.key to 32 bytes), --port N (0..65535) and --timeout SECONDS.
export function commonFlags(opts) {
  return {
    '--key': (v) => (opts.key = parseKey(v)),
    '--port': (v) => (opts.port = parseIntFlag(v, '--port', 0, 65535)),
    '--timeout': (v) => (opts.timeout = parseTimeout(v)),
  }
}

// A decimal integer in [min, max].
export function parseIntFlag(value, flag, min, max) {
  if (!/^[0-9]+$/.test(value)) usageError(`${flag}: not a number: ${value}`)
  const n = Number(value)
  if (n < min || n > max) usageError(`${flag}: out of range [${min}, ${max}]: ${value}`)
  return n
}

// Bytes from hex digits (0x optional).
export function parseHex(value, flag) {
  const h = value.startsWith('0x') || value.startsWith('0X') ? value.slice(2) : value
  if (h.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(h)) usageError(`${flag}: not hex: ${value}`)
  return hexToBytes(`0x${h}`)
}

// A 32-byte secp256k1 private key in hex (--key).
export function parseKey(value) {
  const key = parseHex(value, '--key')
  if (key.length !== 32) usageError(`--key: want 64 hex digits, got ${value}`)
  return key
}

// --timeout SECONDS, in (0, 3600].
export function parseTimeout(value) {
  const t = Number(value)
  if (!Number.isFinite(t) || t <= 0 || t > 3600) {
    usageError(`--timeout: must be in (0, 3600]: ${value}`)
  }
  return t
}

const ENODE_URL =
  /^enode:\/\/([0-9a-fA-F]{128})@(\[[^\]]+\]|[^:/?[\]]+):([0-9]+)(?:\?discport=([0-9]+))?$/

// enode://ID@HOST:TCP[?discport=UDP] with HOST one of `hosts` (an IPv6
// host in brackets). Returns { enode, id (lower-case hex), address,
// tcpPort, udpPort (TCP port when no discport; 0 allowed) }.
export function parseEnode(value, flag, hosts) {
  const m = ENODE_URL.exec(value)
  if (!m) usageError(`${flag}: not an enode URL: ${value}`)
  const address = m[2].startsWith('[') ? m[2].slice(1, -1) : m[2]
  if (!hosts.includes(address)) usageError(`${flag}: ${hosts.join(' or ')} only: ${value}`)
  const tcpPort = parseIntFlag(m[3], `${flag} port`, 1, 65535)
  const udpPort = m[4] === undefined ? tcpPort : parseIntFlag(m[4], `${flag} discport`, 0, 65535)
  return { enode: value, id: m[1].toLowerCase(), address, tcpPort, udpPort }
}

// ------------------------------------------------------------------- run

// Runs main(), which parses the flags, sets everything up and returns the
// --timeout in seconds. Uncaught errors and failed promises end the process
// as `fatal` (1), SIGINT/SIGTERM as `signal` (0), the timeout as `timeout`
// (0); the timer also keeps the process alive while idle.
export function run(main) {
  process.on('uncaughtException', (err) => {
    emit({ event: 'error', message: `uncaught: ${errorMessage(err)}` })
    exit(1, 'fatal')
  })
  process.on('unhandledRejection', (err) => {
    emit({ event: 'error', message: `unhandled rejection: ${errorMessage(err)}` })
    exit(1, 'fatal')
  })
  // A reader that went away (EPIPE): nothing more can be reported.
  process.stdout.on('error', () => process.exit(1))
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => exit(0, 'signal'))

  let timeoutSeconds
  try {
    timeoutSeconds = main()
  } catch (err) {
    emit({ event: 'error', message: `startup: ${errorMessage(err)}` })
    exit(1, 'fatal')
    return
  }
  setTimeout(() => exit(0, 'timeout'), timeoutSeconds * 1000)
}
