#!/usr/bin/env node
// A Node Discovery v4 peer for loopback interoperability tests, built on
// @ethereumjs/devp2p's DPT class (discovery only, no RLPx). Driven by flags;
// reports what happens as one JSON object per line on stdout. See README.md.
//
// Exit codes: 0 normal (timeout, signal), 1 fatal error, 2 bad usage.

import * as dgram from 'node:dgram'

import { DPT, decode as decodeDiscoveryPacket } from '@ethereumjs/devp2p'
import { bytesToUnprefixedHex, hexToBytes } from '@ethereumjs/util'

const USAGE = `usage: node dpt_peer.mjs --key HEX [options]

  --key HEX                 32-byte secp256k1 private key (hex, 0x optional)
  --port N                  UDP port on 127.0.0.1 (0 = any free port; default 0)
  --tcp-port N              TCP port advertised in our Pings (default: the
                            bound UDP port; nothing listens on it)
  --bootnode ENODE          after binding, bootstrap from
                            enode://ID@127.0.0.1:TCP[?discport=UDP]
                            (repeatable; loopback only)
  --refresh-ms N            DPT refreshInterval: every table peer is sent a
                            FindNode for a random target once per N ms
                            (default 2000; the library's default is 60000)
  --no-find-neighbours      shouldFindNeighbours = false: no FindNode is ever
                            sent, and nodes learned from Neighbors or from
                            unknown senders' Pings are not added
  --only-confirmed          onlyConfirmed = true (answer FindNode and refresh
                            only with bootstrapped/confirmed peers)
  --ping-timeout-ms N       how long a Ping waits for its Pong (default 4000)
  --table-interval-ms N     print the table every N ms (default 1000; 0 = only
                            on SIGUSR2 and at exit)
  --timeout SECONDS         exit after this long (default 30)
`

// ---------------------------------------------------------------- output

let exiting = false

function emit(obj) {
  process.stdout.write(`${JSON.stringify(obj)}\n`)
}

function usageError(message) {
  process.stderr.write(`dpt_peer.mjs: ${message}\n${USAGE}`)
  emit({ event: 'error', message })
  exiting = true
  process.exit(2)
}

function errorMessage(err) {
  if (err instanceof Error) return err.message
  return String(err)
}

// ----------------------------------------------------------------- flags

function parseArgs(argv) {
  const opts = {
    key: null,
    port: 0,
    tcpPort: null,
    bootnodes: [],
    refreshMs: 2000,
    findNeighbours: true,
    onlyConfirmed: false,
    pingTimeoutMs: 4000,
    tableIntervalMs: 1000,
    timeout: 30,
  }
  const takesValue = new Set([
    '--key',
    '--port',
    '--tcp-port',
    '--bootnode',
    '--refresh-ms',
    '--ping-timeout-ms',
    '--table-interval-ms',
    '--timeout',
  ])
  for (let i = 0; i < argv.length; i++) {
    let flag = argv[i]
    let value = null
    const eq = flag.indexOf('=')
    if (flag.startsWith('--') && eq > 0) {
      value = flag.slice(eq + 1)
      flag = flag.slice(0, eq)
    }
    if (flag === '--help' || flag === '-h') {
      process.stdout.write(USAGE)
      process.exit(0)
    }
    if (flag === '--no-find-neighbours' || flag === '--only-confirmed') {
      if (value !== null) usageError(`${flag} takes no value`)
      if (flag === '--no-find-neighbours') opts.findNeighbours = false
      else opts.onlyConfirmed = true
      continue
    }
    if (!takesValue.has(flag)) usageError(`unknown flag ${JSON.stringify(flag)}`)
    if (value === null) {
      if (i + 1 >= argv.length) usageError(`${flag} needs a value`)
      value = argv[++i]
    }
    switch (flag) {
      case '--key': {
        const h = value.startsWith('0x') || value.startsWith('0X') ? value.slice(2) : value
        if (!/^[0-9a-fA-F]{64}$/.test(h)) usageError(`--key: want 64 hex digits, got ${value}`)
        opts.key = hexToBytes(`0x${h}`)
        break
      }
      case '--port':
        opts.port = parseIntFlag(value, '--port', 0, 65535)
        break
      case '--tcp-port':
        opts.tcpPort = parseIntFlag(value, '--tcp-port', 1, 65535)
        break
      case '--bootnode':
        opts.bootnodes.push(parseEnode(value))
        break
      case '--refresh-ms':
        // DPT runs one tenth of the peers every refreshInterval/10 ms.
        opts.refreshMs = parseIntFlag(value, '--refresh-ms', 100, 3600000)
        break
      case '--ping-timeout-ms':
        opts.pingTimeoutMs = parseIntFlag(value, '--ping-timeout-ms', 1, 600000)
        break
      case '--table-interval-ms':
        opts.tableIntervalMs = parseIntFlag(value, '--table-interval-ms', 0, 3600000)
        break
      case '--timeout': {
        const t = Number(value)
        if (!Number.isFinite(t) || t <= 0 || t > 3600) {
          usageError(`--timeout: must be in (0, 3600]: ${value}`)
        }
        opts.timeout = t
        break
      }
    }
  }
  if (opts.key === null) usageError('--key is required')
  return opts
}

function parseIntFlag(value, flag, min, max) {
  if (!/^[0-9]+$/.test(value)) usageError(`${flag}: not a number: ${value}`)
  const n = Number(value)
  if (n < min || n > max) usageError(`${flag}: out of range [${min}, ${max}]: ${value}`)
  return n
}

function parseEnode(value) {
  const m = /^enode:\/\/([0-9a-fA-F]{128})@([^:/?]+):([0-9]+)(?:\?discport=([0-9]+))?$/.exec(value)
  if (!m) usageError(`--bootnode: not an enode URL: ${value}`)
  if (m[2] !== '127.0.0.1') usageError(`--bootnode: 127.0.0.1 only: ${value}`)
  const tcpPort = parseIntFlag(m[3], '--bootnode port', 1, 65535)
  const udpPort = m[4] === undefined ? tcpPort : parseIntFlag(m[4], '--bootnode discport', 1, 65535)
  return { enode: value, id: m[1].toLowerCase(), address: m[2], udpPort, tcpPort }
}

// ------------------------------------------------------------------ helpers

function idHex(id) {
  return id instanceof Uint8Array ? bytesToUnprefixedHex(id) : null
}

// A table entry or Neighbors record as printed.
function describePeer(peer) {
  return {
    id: idHex(peer.id),
    address: peer.address ?? null,
    udp_port: peer.udpPort ?? null,
    tcp_port: peer.tcpPort ?? null,
  }
}

// --------------------------------------------------------------------- main

let opts = null
let dpt = null

function dumpTable(why) {
  if (dpt === null) return
  const peers = dpt.getPeers().map(describePeer)
  peers.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  emit({ event: 'table', why, peers })
}

// Reports every packet that reaches the socket, decoded independently of
// the DPT (which reports nothing about what it receives). Runs before the
// DPT's own handler; undecodable packets are left to it (it emits 'error').
function reportPacket(msg, rinfo) {
  let info
  try {
    info = decodeDiscoveryPacket(msg)
  } catch {
    return
  }
  const out = {
    event: 'received',
    type: info.typename,
    from: `${rinfo.address}:${rinfo.port}`,
    // The sender's node ID: its public key without the 0x04 prefix.
    id: bytesToUnprefixedHex(info.publicKey.subarray(1)),
  }
  if (info.typename === 'neighbours') {
    out.nodes = info.data.peers.map((p) => ({
      id: idHex(p.id),
      address: p.endpoint.address,
      udp_port: p.endpoint.udpPort,
      tcp_port: p.endpoint.tcpPort,
    }))
  } else if (info.typename === 'ping') {
    out.from_endpoint = describePeer(info.data.from)
    out.to_endpoint = describePeer(info.data.to)
  } else if (info.typename === 'pong') {
    out.to_endpoint = describePeer(info.data.to)
  }
  emit(out)
}

function exit(code, why) {
  if (exiting) return
  exiting = true
  if (code === 0) dumpTable('exit')
  emit({ event: 'exit', why, code })
  try {
    if (dpt !== null) dpt.destroy()
  } catch {
    // Already destroyed.
  }
  // Flush stdout before exiting; a backstop timer keeps the process bounded.
  setTimeout(() => process.exit(code), 1000).unref()
  process.stdout.write('', () => process.exit(code))
}

function main() {
  opts = parseArgs(process.argv.slice(2))

  // The DPT keeps a reference to this object and puts it in every Ping's
  // `from`; the ports are filled in once the socket is bound.
  const endpoint = { address: '127.0.0.1', udpPort: null, tcpPort: null }
  dpt = new DPT(opts.key, {
    endpoint,
    refreshInterval: opts.refreshMs,
    shouldFindNeighbours: opts.findNeighbours,
    onlyConfirmed: opts.onlyConfirmed,
    shouldGetDnsPeers: false,
    timeout: opts.pingTimeoutMs,
    createSocket: () => {
      const socket = dgram.createSocket({ type: 'udp4' })
      socket.on('message', reportPacket)
      socket.once('listening', () => {
        endpoint.udpPort = socket.address().port
        endpoint.tcpPort = opts.tcpPort ?? endpoint.udpPort
      })
      return socket
    },
  })

  dpt.events.on('listening', () => {
    const id = bytesToUnprefixedHex(dpt.id)
    const query = endpoint.tcpPort === endpoint.udpPort ? '' : `?discport=${endpoint.udpPort}`
    emit({
      event: 'listening',
      enode: `enode://${id}@127.0.0.1:${endpoint.tcpPort}${query}`,
      id,
      udp_port: endpoint.udpPort,
      tcp_port: endpoint.tcpPort,
    })
    for (const b of opts.bootnodes) {
      emit({ event: 'bootstrap', enode: b.enode })
      // Errors (a Ping without Pong) come back as 'error' events.
      dpt.bootstrap({ address: b.address, udpPort: b.udpPort, tcpPort: b.tcpPort })
    }
    if (opts.tableIntervalMs > 0) setInterval(() => dumpTable('interval'), opts.tableIntervalMs)
  })

  dpt.events.on('peer:added', (peer) => emit({ event: 'peer_added', ...describePeer(peer) }))
  dpt.events.on('peer:removed', (peer) => emit({ event: 'peer_removed', ...describePeer(peer) }))
  // Ping timeouts and undecodable packets; none is fatal to the DPT.
  dpt.events.on('error', (err) => emit({ event: 'error', message: `dpt: ${errorMessage(err)}` }))

  dpt.bind(opts.port, '127.0.0.1')
}

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
// SIGUSR1 would start Node's debugger; SIGUSR2 asks for a table dump.
process.on('SIGUSR2', () => dumpTable('request'))

try {
  main()
} catch (err) {
  emit({ event: 'error', message: `startup: ${errorMessage(err)}` })
  exit(1, 'fatal')
}
// Also keeps the process alive while idle.
setTimeout(() => exit(0, 'timeout'), opts.timeout * 1000)
