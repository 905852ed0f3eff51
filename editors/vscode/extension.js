// The VS Code client of `kokuho lsp`: starts the language server over stdio for .rules files.
// Everything the editor shows (checks, hovers, definitions, completion, formatting, quick fixes)
// comes from the server; this file only starts it and passes the settings.
'use strict';

const vscode = require('vscode');
const { LanguageClient, TransportKind } = require('vscode-languageclient/node');

let client;

function settings() {
  const config = vscode.workspace.getConfiguration('kokuho');
  return {
    command: config.get('command', ['kokuho', 'lsp']),
    data: config.get('data', ''),
    prefectureData: config.get('prefectureData', ''),
  };
}

function activate(context) {
  const s = settings();
  const [command, ...args] = s.command;
  const serverOptions = { command, args, transport: TransportKind.stdio };
  const clientOptions = {
    documentSelector: [{ scheme: 'file', language: 'kokuho' }],
    initializationOptions: { data: s.data, prefectureData: s.prefectureData },
    synchronize: {
      configurationSection: 'kokuho',
      fileEvents: vscode.workspace.createFileSystemWatcher('**/*.rules'),
    },
  };
  client = new LanguageClient('kokuho', 'Kokuho rules', serverOptions, clientOptions);
  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration('kokuho.command')) {
        vscode.window.showInformationMessage('Kokuho rules: reload the window to restart the language server with the new command.');
      }
    }),
  );
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
