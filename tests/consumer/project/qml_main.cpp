// The QML consumer: `import Kernia` resolves to the installed module (plugin, qmldir and
// type information under Kernia_QML_IMPORT_DIR), with no link to any Kernia library.
#include <QtCore/QCoreApplication>
#include <QtQml/QQmlComponent>
#include <QtQml/QQmlEngine>

#include <cstdio>
#include <memory>

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QQmlEngine engine;
    engine.addImportPath(QStringLiteral(KERNIA_QML_IMPORT_DIR));
    QQmlComponent component(&engine);
    // A model bound to no collection is inert; the KerniaClient property only has to
    // resolve. (No `import QtQml`: Debian ships it in a package of its own.)
    component.setData(R"(
        import Kernia
        CollectionModel {
            property KerniaClient client: null
            property int fieldCount: fields.length
            fields: ["qty"]
        }
    )", QUrl(QStringLiteral("consumer.qml")));
    const std::unique_ptr<QObject> root(component.create());
    if (!root) {
        std::fprintf(stderr, "import Kernia failed: %s\n", qPrintable(component.errorString()));
        return 1;
    }
    const int fieldCount = root->property("fieldCount").toInt();
    std::printf("import Kernia from %s: ok, CollectionModel fields: %d\n", KERNIA_QML_IMPORT_DIR, fieldCount);
    return fieldCount == 1 ? 0 : 1;
}
