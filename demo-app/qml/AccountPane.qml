// Sign up / sign in (email + password). As a guest, either one keeps the cart:
// the server moves the guest's records to the account.
import QtQuick
import QtQuick.Controls.Basic
import QtQuick.Layouts
import Kernia

Rectangle {
    id: pane

    required property KerniaClient client
    readonly property var user: client.user   // var: qmllint (Qt 6.4) does not look into a QVariantMap
    readonly property bool signedIn: client.state === KerniaClient.SignedIn
    readonly property bool signedOut: client.state === KerniaClient.SignedOut
    property string error: ""
    property string notice: ""             // e.g. "check your mail" after a mailed deletion link
    property bool waiting: false           // a reply of this pane has yet to complete
    readonly property bool idle: !client.busy && !waiting
    // Enter in the password field: Sign in for a returning (signed-out) user, Create
    // account for a guest. The default button is the highlighted one.
    readonly property Button defaultButton: signedOut ? signIn : signUp

    radius: Theme.radius
    color: Theme.surface
    border.color: Theme.border
    implicitHeight: content.implicitHeight + 2 * Theme.padding

    // clearPassword: only a finished sign-in/up may empty the field. A sign-out completes
    // after the form is back (the keychain removal is asynchronous), and must not wipe
    // a password the user is already typing.
    function run(reply, clearPassword) {
        error = ""
        notice = ""
        waiting = true
        // Bound to the pane: a reply that completes after the window is gone (CANCELLED) is ignored.
        reply.completed.connect(pane, function () {
            pane.waiting = false
            if (!reply.ok) {
                const e = reply.error || {}
                pane.error = e.message || e.code || qsTr("Something went wrong")
            } else if (clearPassword) {
                password.text = ""
            }
        })
    }

    component PrimaryButton: Button {
        id: button
        property color tint: Theme.accent
        font.pixelSize: Theme.body
        font.bold: true
        contentItem: Label {
            text: button.text; font: button.font
            color: button.enabled ? "white" : "#e5e7eb"
            horizontalAlignment: Text.AlignHCenter
            verticalAlignment: Text.AlignVCenter
        }
        background: Rectangle {
            implicitHeight: 36; radius: 8
            color: !button.enabled ? Theme.muted : button.down ? Qt.darker(button.tint, 1.2) : button.tint
            FocusRing { visible: button.visualFocus; radius: 11 }
        }
    }

    ColumnLayout {
        id: content
        anchors.fill: parent
        anchors.margins: Theme.padding
        spacing: 10

        Label {
            text: pane.signedIn ? qsTr("Your account") : qsTr("Keep your cart")
            font.pixelSize: Theme.title; font.bold: true; color: Theme.text
        }
        Label {
            objectName: "accountInfo"
            Layout.fillWidth: true
            wrapMode: Text.WordWrap
            color: Theme.muted
            font.pixelSize: Theme.small
            text: pane.signedIn
                  ? qsTr("Signed in as %1. Your cart syncs to every device you sign in on.").arg(pane.user.email)
                  : pane.signedOut
                    ? qsTr("You are signed out. Sign in to get your cart back, or continue as a guest.")
                    : qsTr("You are shopping as a guest. Create an account (or sign in) and this cart comes with you.")
        }

        TextField {
            id: email
            objectName: "emailField"
            visible: !pane.signedIn
            Layout.fillWidth: true
            placeholderText: qsTr("Email")
            inputMethodHints: Qt.ImhEmailCharactersOnly | Qt.ImhNoAutoUppercase
            onAccepted: password.forceActiveFocus()
        }
        TextField {
            id: password
            objectName: "passwordField"
            visible: !pane.signedIn
            Layout.fillWidth: true
            placeholderText: qsTr("Password (8+ characters)")
            echoMode: TextInput.Password
            // As a click would: nothing while the button is disabled (busy, a field empty).
            onAccepted: if (pane.defaultButton.enabled) pane.defaultButton.clicked()
        }
        RowLayout {
            visible: !pane.signedIn
            spacing: 8
            PrimaryButton {
                id: signUp
                objectName: "signUpButton"
                text: qsTr("Create account")
                tint: pane.defaultButton === signUp ? Theme.accent : Theme.headerBg
                enabled: pane.idle && email.text.length > 0 && password.text.length > 0
                Layout.fillWidth: true
                onClicked: pane.run(pane.client.signUpEmail(email.text, password.text, email.text.split("@")[0]), true)
            }
            PrimaryButton {
                id: signIn
                objectName: "signInButton"
                text: qsTr("Sign in")
                tint: pane.defaultButton === signIn ? Theme.accent : Theme.headerBg
                enabled: signUp.enabled
                Layout.fillWidth: true
                onClicked: pane.run(pane.client.signInEmail(email.text, password.text), true)
            }
        }
        PrimaryButton {
            objectName: "guestButton"
            visible: pane.signedOut
            text: qsTr("Continue as guest")
            tint: Theme.muted
            enabled: pane.idle
            onClicked: pane.run(pane.client.signInAsGuest(), false)
        }
        PrimaryButton {
            objectName: "signOutButton"
            visible: pane.signedIn
            text: qsTr("Sign out")
            tint: Theme.muted
            enabled: pane.idle
            onClicked: pane.run(pane.client.signOut(), false)
        }
        // Deleting takes two clicks: the first arms the button, the second deletes.
        PrimaryButton {
            id: deleteAccount
            objectName: "deleteAccountButton"
            property bool armed: false
            visible: pane.signedIn
            text: armed ? qsTr("Delete account and cart for good") : qsTr("Delete account…")
            tint: armed ? Theme.bad : Theme.muted
            enabled: pane.idle
            onClicked: {
                if (!armed) {
                    armed = true
                    return
                }
                armed = false
                pane.run(pane.client.deleteAccount(), false)
            }
            onVisibleChanged: armed = false
        }
        Connections {
            target: pane.client
            // A server with a mailer confirms by mail for a verified address.
            function onAccountDeletionMailed() {
                pane.notice = qsTr("We mailed you a link: open it in this app to delete the account.")
            }
        }
        Label {
            objectName: "accountNotice"
            visible: text.length > 0
            text: pane.notice
            color: Theme.muted
            font.pixelSize: Theme.small
            wrapMode: Text.WordWrap
            Layout.fillWidth: true
        }
        Label {
            objectName: "accountError"
            visible: text.length > 0
            text: pane.error
            color: Theme.bad
            font.pixelSize: Theme.small
            wrapMode: Text.WordWrap
            Layout.fillWidth: true
        }
    }
}
