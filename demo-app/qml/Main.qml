// Kernia "Guest cart": shop as a guest from the first launch (offline too), sign up
// later and keep the cart. See docs/demo.md.
import QtQuick
import QtQuick.Controls.Basic
import QtQuick.Layouts
import Kernia

ApplicationWindow {
    id: window

    // Set by the C++ loader (demoapp.cpp) from the command line / environment.
    property url serverUrl: "http://127.0.0.1:3000"
    property string dataDirectory: ""
    property string keychainService: ""
    property bool plaintextTokens: false

    width: 980
    height: 640
    minimumWidth: 820
    minimumHeight: 560
    visible: true
    title: qsTr("Kernia guest cart")
    color: Theme.background
    font.family: "Lato"   // falls back to the default font where Lato is not installed

    KerniaClient {
        id: kernia
        objectName: "kernia"
        serverUrl: window.serverUrl
        appId: "dev.kernia.demo"
        dataDirectory: window.dataDirectory
        keychainService: window.keychainService
        allowInsecurePlaintextTokenStorage: window.plaintextTokens
        // collectionNamed(): the same as collection() (a function property, for bindings).
        onClientChanged: cartStore.collection = kernia.collectionNamed("cart")
    }

    CartStore { id: cartStore }
    // The KerniaClient creates its Kernia::Client when it is complete, i.e. before this.
    Component.onCompleted: cartStore.collection = kernia.collectionNamed("cart")

    header: StatusHeader { client: kernia }

    ColumnLayout {
        anchors.fill: parent
        anchors.margins: Theme.padding + 4
        spacing: Theme.padding

        SessionBanner {
            client: kernia
            Layout.fillWidth: true
        }
        RowLayout {
            Layout.fillWidth: true
            Layout.fillHeight: true
            spacing: Theme.padding + 4

            CatalogPane {
                cart: cartStore
                enabled: kernia.state !== KerniaClient.SignedOut   // no user, no cart
                Layout.fillHeight: true
                Layout.fillWidth: false   // layouts fill by default
                Layout.preferredWidth: 500
            }
            ColumnLayout {
                Layout.fillHeight: true
                Layout.fillWidth: true
                spacing: Theme.padding
                CartPane {
                    cart: cartStore
                    Layout.fillWidth: true
                    Layout.fillHeight: true
                }
                AccountPane {
                    client: kernia
                    Layout.fillWidth: true
                }
            }
        }
    }
}
