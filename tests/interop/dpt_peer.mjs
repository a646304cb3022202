#!/usr/bin/env node
// A Node Discovery v4 peer for loopback interoperability tests, built on
// @ethereumjs/devp2p's DPT class (discovery only, no RLPx). Driven by flags;
// reports what happens as one JSON object per line on stdout. See README.md.
//
// Exit codes: 0 normal (timeout, signal), 1 fatal error, 2 bad usage.

import * as dgram from 'node:dgram'

import { DPT, decode as decodeDiscoveryPacket } from '@ethereumjs/devp2p'
import { bytesToUnprefixedHex } from '@ethereumjs/util'

import {
  commonFlags,
  emit,
  errorMessage,
  parseEnode,
  parseFlags,
  parseIntFlag,
  run,
  setExitHooks,
  usageError,
} from './common.mjs'

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
  parseFlags(argv, {
    script: 'dpt_peer.mjs',
    usageText: USAGE,
    switches: {
      '--no-find-neighbours': () => (opts.findNeighbours = false),
      '--only-confirmed': () => (opts.onlyConfirmed = true),
    },
    flags: {
      ...commonFlags(opts),
      '--tcp-port': (v) => (opts.tcpPort = parseIntFlag(v, '--tcp-port', 1, 65535)),
      '--bootnode': (v) => {
        const b = parseEnode(v, '--bootnode', ['127.0.0.1'])
        // A DPT cannot ping port 0.
        if (b.udpPort === 0) usageError('--bootnode discport: out of range [1, 65535]: 0')
        opts.bootnodes.push(b)
      },
      // DPT runs one tenth of the peers every refreshInterval/10 ms.
      '--refresh-ms': (v) => (opts.refreshMs = parseIntFlag(v, '--refresh-ms', 100, 3600000)),
      '--ping-timeout-ms': (v) =>
        (opts.pingTimeoutMs = parseIntFlag(v, '--ping-timeout-ms', 1, 600000)),
      '--table-interval-ms': (v) =>
        (opts.tableIntervalMs = parseIntFlag(v, '--table-interval-ms', 0, 3600000)),
    },
  })
  if (opts.key === null) usageError('--key is required')
  return opts
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

function main() {
  opts = parseArgs(process.argv.slice(2))
  setExitHooks({
    // A last table dump, unless the run failed.
    beforeExitLine: (code) => {
      if (code === 0) dumpTable('exit')
    },
    afterExitLine: () => dpt?.destroy(),
  })

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
  return opts.timeout
}

// SIGUSR1 would start Node's debugger; SIGUSR2 asks for a table dump.
process.on('SIGUSR2', () => dumpTable('request'))

run(main)
