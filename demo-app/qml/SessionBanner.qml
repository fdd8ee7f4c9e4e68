// After the SDK lost the session (the server no longer knows it; docs/sdk.md "Only a
// definite answer replaces a guest"): why, and a guest's cart from before, which the new
// guest may restore or discard. A lost account session says to sign in again.
import QtQuick
import QtQuick.Controls.Basic
import QtQuick.Layouts
import Kernia

Rectangle {
    id: banner

    required property KerniaClient client
    property string reason: ""   // sessionLost's reason (= lastError), until acted on
    property string error: ""    // of Restore / Discard
    // The local data the SDK offers to the current user (a lost guest's cart); nobody can
    // take it while signed out.
    readonly property string offeredId: client.state !== KerniaClient.SignedOut
                                        && client.offeredLocalData.length > 0 ? client.offeredLocalData[0] : ""

    objectName: "sessionBanner"
    visible: offeredId !== "" || reason !== ""
    implicitHeight: content.implicitHeight + 2 * Theme.spacing
    radius: Theme.radius
    color: Theme.warnSoft
    border.color: Theme.warn

    Connections {
        target: banner.client
        function onSessionLost(previousUser, reason) {
            banner.reason = reason.message || qsTr("Your session has ended.")
            banner.error = ""
        }
        function onSignedIn() { banner.reason = "" }
    }

    // result: the error object of adoptLocalData() / discardLocalData().
    function settle(result) {
        error = result.isError ? result.message : ""
        if (!result.isError)
            reason = ""
    }

    RowLayout {
        id: content
        anchors.fill: parent
        anchors.margins: Theme.spacing
        spacing: Theme.spacing

        ColumnLayout {
            Layout.fillWidth: true
            spacing: 2
            Label {
                objectName: "sessionTitle"
                text: banner.offeredId ? qsTr("Restore your previous cart?") : qsTr("You were signed out")
                font.pixelSize: Theme.body; font.bold: true; color: Theme.text
            }
            Label {
                objectName: "sessionMessage"
                Layout.fillWidth: true
                wrapMode: Text.WordWrap
                font.pixelSize: Theme.small; color: Theme.text
                text: {
                    const next = banner.offeredId ? qsTr("The cart from before is still on this device.")
                                                  : qsTr("Sign in again to get your cart back.")
                    if (!banner.reason)
                        return next
                    // The SDK's messages have no full stop.
                    return banner.reason + (/[.!?]$/.test(banner.reason) ? " " : ". ") + next
                }
            }
            Label {
                objectName: "sessionError"
                visible: text.length > 0
                text: banner.error
                color: Theme.bad; font.pixelSize: Theme.small
                Layout.fillWidth: true; wrapMode: Text.WordWrap
            }
        }
        Button {
            objectName: "restoreButton"
            visible: banner.offeredId !== ""
            text: qsTr("Restore")
            highlighted: true
            onClicked: banner.settle(banner.client.adoptLocalData(banner.offeredId))
        }
        Button {
            objectName: "discardButton"
            visible: banner.offeredId !== ""
            text: qsTr("Discard")
            onClicked: banner.settle(banner.client.discardLocalData(banner.offeredId))
        }
        Button {
            objectName: "dismissButton"
            visible: banner.offeredId === ""
            text: qsTr("OK")
            onClicked: banner.reason = ""
        }
    }
}
