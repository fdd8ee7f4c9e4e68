// Who you are, whether the server answers, and how far the cart is synced.
import QtQuick
import QtQuick.Controls.Basic
import QtQuick.Layouts
import Kernia

Rectangle {
    id: header

    required property KerniaClient client
    readonly property var user: client.user   // var: qmllint (Qt 6.4) does not look into a QVariantMap

    readonly property bool signedIn: client.state === KerniaClient.SignedIn
    readonly property string identity: signedIn ? (user.email || user.name || "account")
                                                : client.state === KerniaClient.Guest ? qsTr("Guest") : qsTr("Signed out")
    readonly property string syncText: {
        switch (client.syncState) {
        case "syncing": return qsTr("Syncing…")
        case "offline": return client.pendingChanges > 0 ? qsTr("Not synced (offline)") : qsTr("Sync paused (offline)")
        case "error":   return qsTr("Sync error")
        case "idle":    return client.pendingChanges > 0 ? qsTr("Waiting to sync") : qsTr("Synced")
        default:        return qsTr("Sync unavailable")
        }
    }

    implicitHeight: 64
    color: Theme.headerBg

    component Chip: Rectangle {
        id: chip
        property alias text: label.text
        property color dot: "transparent"
        implicitWidth: row.implicitWidth + 20
        implicitHeight: 28
        radius: 14
        color: Qt.rgba(1, 1, 1, 0.10)
        RowLayout {
            id: row
            anchors.centerIn: parent
            spacing: 6
            Rectangle {
                visible: chip.dot.a > 0
                implicitWidth: 8; implicitHeight: 8; radius: 4
                color: chip.dot
            }
            Label { id: label; color: Theme.headerText; font.pixelSize: Theme.small }
        }
    }

    RowLayout {
        anchors.fill: parent
        anchors.leftMargin: Theme.padding + 4
        anchors.rightMargin: Theme.padding + 4
        spacing: Theme.spacing

        Label {
            text: qsTr("Guest cart")
            color: "white"
            font.pixelSize: 20
            font.bold: true
        }
        Label {
            text: qsTr("a Kernia demo")
            color: Theme.headerText
            opacity: 0.7
            font.pixelSize: Theme.small
            Layout.alignment: Qt.AlignBaseline
        }
        Item { Layout.fillWidth: true }

        Chip {
            objectName: "identityChip"
            text: header.signedIn ? header.identity : qsTr("%1 · local id %2").arg(header.identity)
                                                        .arg(String(header.user.localId || "").slice(0, 8))
            dot: header.signedIn ? Theme.good : "#a5b4fc"
        }
        Chip {
            objectName: "onlineChip"
            text: header.client.online ? qsTr("Online") : qsTr("Offline")
            dot: header.client.online ? Theme.good : Theme.bad
        }
        Chip {
            objectName: "syncChip"
            text: header.syncText
            dot: header.client.syncState === "error" ? Theme.bad
                 : header.client.pendingChanges > 0 || header.client.syncState === "syncing" ? Theme.warn
                 : header.client.syncState === "offline" ? "#9ca3af" : Theme.good
        }
        Chip {
            objectName: "pendingChip"
            readonly property int count: header.client.pendingChanges || 0
            text: count === 1 ? qsTr("1 pending change") : qsTr("%1 pending changes").arg(count)
        }
    }
}
